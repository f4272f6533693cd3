// Paces V8's GC to the bytes a transfer moves. A socket read or a file read is a new 64-512 KiB ArrayBuffer that
// dies a moment later; V8 frees those only at a scavenge, and it scavenges for them only once 32 MiB of young
// backing stores have piled up (2 x its largest semi-space, whatever --max-semi-space-size says); the ones still in
// flight at two scavenges are promoted and wait for a full GC. With four layers streaming that was 40-55 MiB of dead
// buffers in every transfer's peak RSS. With a transfer's small live heap a scavenge costs well under a millisecond
// and a full GC a few: one of each per MINOR_BYTES / MAJOR_BYTES moved keeps the dead buffers to a few MiB.
//
// Off unless armed: the library leaves V8 alone; the CLI (bin/) arms it.

const MINOR_BYTES = 4 << 20;
const MAJOR_BYTES = 32 << 20;

export interface GcFunctions {
  minor: () => void;
  major: () => void;
}

let gc: GcFunctions | undefined;
let sinceMinor = 0;
let sinceMajor = 0;

/** Turns pacing on. */
export function armGcPacer(fns: GcFunctions): void {
  gc = fns;
}

/** Counts `n` bytes moved, and collects when due (when armed). */
export function pace(n: number): void {
  if (gc === undefined) return;
  sinceMinor += n;
  sinceMajor += n;
  if (sinceMajor >= MAJOR_BYTES) {
    sinceMajor = sinceMinor = 0;
    gc.major();
  } else if (sinceMinor >= MINOR_BYTES) {
    sinceMinor = 0;
    gc.minor();
  }
}
