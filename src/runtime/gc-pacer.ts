// Paces V8's GC to the bytes a transfer moves. A socket read or a file read is a new 64-256 KiB ArrayBuffer that
// dies a moment later; V8 frees those only at a scavenge, and it scavenges for them only once 32 MiB of young
// backing stores have piled up (2 x its largest semi-space, whatever --max-semi-space-size says); the ones still in
// flight at two scavenges (a layer whose upload waits for the registry) are promoted and wait for a full GC. With
// four layers streaming that was 40-55 MiB of dead buffers in every transfer's peak RSS (bench/, issue 16).
// So: a scavenge per MINOR_BYTES moved (well under a millisecond with a transfer's small live heap), and a full GC
// when what ArrayBuffers hold after it is still above FULL_GC_ABOVE (a few ms; rare: dead promoted buffers only).
//
// Off unless armed: the library leaves V8 alone; the CLI arms it (cli-runtime.ts).

const MINOR_BYTES = 4 << 20;
const FULL_GC_ABOVE = 16 << 20;

export interface GcFunctions {
  minor: () => void;
  major: () => void;
}

let gc: GcFunctions | undefined;
let sinceMinor = 0;

/** Turns pacing on. */
export function armGcPacer(fns: GcFunctions): void {
  gc = fns;
}

/** Counts `n` bytes moved, and collects when due (when armed). */
export function pace(n: number): void {
  if (gc === undefined) return;
  sinceMinor += n;
  if (sinceMinor < MINOR_BYTES) return;
  sinceMinor = 0;
  gc.minor();
  if (process.memoryUsage().arrayBuffers > FULL_GC_ABOVE) gc.major();
}
