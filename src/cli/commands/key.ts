// dhe-cli key …: signing keys.

import { defineGroup } from '../define.js';

export default defineGroup({
  meta: { name: 'key', description: 'signing keys (cosign-compatible)' },
  subCommands: { generate: () => import('./key-generate.js').then((m) => m.default) },
});
