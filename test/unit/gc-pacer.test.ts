// The GC pacer (src/runtime/gc-pacer.ts): off until the CLI arms it; once armed, a collection per 4 MiB moved: a
// scavenge, and every second one a full GC.
import { describe, expect, it } from 'vitest';
import { armGcPacer, pace } from '../../src/runtime/gc-pacer.js';

const MiB = 1024 * 1024;

describe('gc pacer', () => {
  it('does nothing until armed, then collects at the pace of the bytes moved', () => {
    for (let i = 0; i < 64; i++) pace(MiB); // not armed: the library leaves V8 alone
    const calls: string[] = [];
    armGcPacer({ minor: () => calls.push('minor'), major: () => calls.push('major') });
    for (let i = 0; i < 3; i++) pace(MiB);
    expect(calls).toEqual([]);
    pace(MiB);
    expect(calls).toEqual(['minor']);
    for (let i = 0; i < 80; i++) pace(256 * 1024); // 20 MiB more in small reads: 24 MiB in all
    expect(calls).toEqual(['minor', 'major', 'minor', 'major', 'minor', 'major']);
  });
});
