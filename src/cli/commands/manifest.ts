// dhe-cli manifest …: the word that groups the commands on a registry's manifests.

import { defineGroup } from '../define.js';

export default defineGroup({
  meta: { name: 'manifest', description: 'inspect manifests on a registry, and make multi-platform indexes there' },
  subCommands: {
    create: () => import('./manifest-create.js').then((m) => m.default),
    inspect: () => import('./manifest-inspect.js').then((m) => m.default),
  },
});
