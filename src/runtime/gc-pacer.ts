// Paces V8's GC to the bytes a transfer moves. A socket read or a file read is a new 64-256 KiB ArrayBuffer that
// dies a moment later; V8 frees those only at a scavenge, and it scavenges for them only once 32 MiB of young
// backing stores have piled up (2 x its largest semi-space, whatever --max-semi-space-size says); the ones still in
// flight at two scavenges (a layer whose upload waits for the registry) are promoted and wait for a full GC. With
// four layers streaming that was 40-55 MiB of dead buffers in every transfer's peak RSS (bench/, issue 16).
// So: a scavenge per MINOR_BYTES moved and a full GC per MAJOR_BYTES. A transfer's live heap is ~10 MiB, so these
// cost a fraction of a millisecond and a few ms: no difference in CPU time measured on a 1 GiB pull or push. (A full
// GC decided by process.memoryUsage().arrayBuffers instead came too late: what a GC frees is swept concurrently and
// shows there only later; 1 run in 3 of a four-layer push still peaked ~20 MiB higher; one per 16 MiB: 1 in 5.)
//
// Off unless armed: the library leaves V8 alone; the CLI arms it (cli-runtime.ts).

const MINOR_BYTES = 4 << 20;
const MAJOR_BYTES = 8 << 20;

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
  if (sinceMinor < MINOR_BYTES) return;
  sinceMajor += sinceMinor;
  sinceMinor = 0;
  if (sinceMajor >= MAJOR_BYTES) {
    sinceMajor = 0;
    gc.major();
  } else {
    gc.minor();
  }
}
