// The GC pacer (src/runtime/gc-pacer.ts): off until the CLI arms it; once armed, a scavenge per 4 MiB moved, and a
// full GC only when ArrayBuffers still hold more than 16 MiB after the scavenge.
import { describe, expect, it } from 'vitest';
import { armGcPacer, pace } from '../../src/runtime/gc-pacer.js';

const MiB = 1024 * 1024;

describe('gc pacer', () => {
  it('does nothing until armed, then collects at the pace of the bytes moved', () => {
    for (let i = 0; i < 64; i++) pace(MiB); // not armed: the library leaves V8 alone
    const calls = { minor: 0, major: 0 };
    armGcPacer({ minor: () => calls.minor++, major: () => calls.major++ });
    for (let i = 0; i < 3; i++) pace(MiB);
    expect(calls.minor).toBe(0);
    pace(MiB);
    expect(calls.minor).toBe(1);
    for (let i = 0; i < 40; i++) pace(256 * 1024); // 10 MiB in small reads
    expect(calls.minor).toBe(3);
    // a full GC only while ArrayBuffers stay above 16 MiB after the scavenge
    const held = Buffer.alloc(24 * MiB);
    pace(4 * MiB);
    expect(calls.major).toBeGreaterThanOrEqual(1);
    expect(held.length).toBe(24 * MiB);
  });
});
