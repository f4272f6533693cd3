import { DheError } from '../../errors.js';
import { defineCommand } from '../define.js';
import { humanBytes } from '../progress.js';
import { openStore } from '../session.js';
import { spinner } from '../spinner.js';

export default defineCommand({
  meta: {
    name: 'verify',
    description: 'check every blob against its digest and every name against its blobs',
    examples: ['dhe-cli store verify', 'dhe-cli store verify --repair'],
  },
  options: { repair: { type: 'boolean', description: 'drop broken blobs and names that point at missing blobs' } },
  async run(ctx, opts) {
    const store = await openStore(ctx);
    const out = ctx.out;
    const spin = await spinner(out);
    spin.start(`Verifying the blobs in ${store.dir}`);
    const r = await store.verify({ repair: !!opts.repair }).finally(() => spin.stop());
    out.info(`Checked ${r.blobsChecked} blobs (${humanBytes(r.bytesChecked)}) in ${store.dir}`);
    for (const d of r.corruptBlobs) out.info(`corrupt blob: ${d}`);
    for (const f of r.strayFiles) out.info(`stray file: ${f}`);
    for (const b of r.brokenNames) out.info(`broken image: ${b.name} (missing or corrupt: ${b.missing.join(', ')})`);
    if (r.staleTempFiles) out.info(`stale temporary files: ${r.staleTempFiles}`);
    if (opts.repair) {
      const rep = r.repaired;
      out.info(
        `Repaired: removed ${rep.removedBlobs} blobs, ${rep.removedNames.length} names, ${rep.removedTempFiles} temporary files`,
      );
      for (const n of rep.removedNames) out.info(`removed name: ${n}`);
    }
    const problems = r.corruptBlobs.length + r.brokenNames.length + r.strayFiles.length;
    if (problems > 0 && !opts.repair) {
      throw new DheError('CORRUPT_STORE', `the local store has ${problems} problem${problems === 1 ? '' : 's'}`, {
        hint: "run 'dhe-cli store verify --repair' to drop what is broken, then pull again what you need",
      });
    }
    out.result(problems === 0 ? 'Store OK' : 'Store repaired');
    return 0;
  },
});
