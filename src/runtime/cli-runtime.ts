// V8 settings for the CLI process (bin/ and the single executable call this before the first command runs; the
// library leaves V8 alone).
//
// - The HTTP parser (undici's llhttp) is WebAssembly. V8 first compiles it with its baseline compiler (Liftoff),
//   then re-compiles hot functions with TurboFan on background threads; in a short-lived CLI that tier-up costs
//   ~35 MB of peak RSS and holds the exit for a few hundred ms while it finishes (bench/: a 50-layer re-pull peaks
//   at 104 MB with it, 69 MB without). Parsing is a small share of a transfer, so baseline code is enough. undici is
//   loaded only when a command talks to a registry, after this has run.
// - GC paced to the bytes transfers move (gc-pacer.ts), through a gc() from a fresh context (--expose-gc set now
//   applies to contexts created from now on; the main context gets no global `gc`).
// Only on Node versions known to have these flags.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { armGcPacer } from './gc-pacer.js';

type GcFunction = (options: { type: 'minor' | 'major' }) => void;

export function tuneForCli(): void {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 18 || major > 24) return;
  setFlagsFromString('--liftoff-only');
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as GcFunction | undefined;
  if (typeof gc !== 'function') return;
  armGcPacer({ minor: () => gc({ type: 'minor' }), major: () => gc({ type: 'major' }) });
}
