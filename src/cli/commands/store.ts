// dhe-cli store …: the word that groups the local store's maintenance commands.

import { defineGroup } from '../define.js';

export default defineGroup({
  meta: { name: 'store', description: 'maintain the local image store' },
  subCommands: { verify: () => import('./store-verify.js').then((m) => m.default) },
});
