// dhe-cli manifest …: the word that groups the commands on a registry's manifests.

import { defineGroup } from '../define.js';

export default defineGroup({
  meta: { name: 'manifest', description: "inspect manifests on a registry" },
  subCommands: { inspect: () => import('./manifest-inspect.js').then((m) => m.default) },
});
