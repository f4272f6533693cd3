import net from 'node:net';
const R = 'http://127.0.0.1:35053';
const m = await (await fetch(R + '/v2/bench/five/manifests/v1', { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json();
const t0 = performance.now(); const c0 = process.cpuUsage();
let chunks = 0, bytes = 0;
const useOnread = !!process.env.ONREAD;
await Promise.all(m.layers.map((l) => new Promise((res) => {
  const want = l.size;
  let got = -1;
  const opts = { host: '127.0.0.1', port: 35053 };
  if (useOnread) opts.onread = { buffer: Buffer.allocUnsafe(1 << 20), callback: (n) => { chunks++; bytes += n; got += n; if (got >= want) s.end(); } };
  const s = net.connect(opts, () => s.write(`GET /v2/bench/five/blobs/${l.digest} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
  if (!useOnread) s.on('data', (c) => { chunks++; bytes += c.length; });
  s.on('close', res);
})));
const cu = process.cpuUsage(c0);
console.log({ ms: performance.now() - t0, chunks, avg: bytes / chunks | 0, user: cu.user / 1000, sys: cu.system / 1000 });
