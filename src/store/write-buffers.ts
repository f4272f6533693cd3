// Reused write buffers for blob files. A download arrives as ~64 KiB socket reads; holding those reads until a
// batch is written keeps each alive across a few scavenges, so V8 promotes them and frees them only at the next full
// GC: on a 1 GiB pull ~45 MiB of dead socket buffers sat in RSS. Copying each read into one of a few fixed buffers
// (a memcpy, ~0.1 s per GiB) lets the reads die young, and the buffers themselves are reused, never garbage.

const BUFFER_SIZE = 512 << 10;
/** Buffers kept for reuse; enough for two per transfer at the highest --concurrency we expect. */
const MAX_FREE = 16;

const free: Buffer[] = [];

/** A write buffer of BUFFER_SIZE bytes (contents undefined). */
export function takeWriteBuffer(): Buffer {
  return free.pop() ?? Buffer.allocUnsafeSlow(BUFFER_SIZE);
}

/** Gives a buffer back once nothing reads it any more (its write has completed). */
export function returnWriteBuffer(buf: Buffer): void {
  if (buf.length === BUFFER_SIZE && free.length < MAX_FREE) free.push(buf);
}
