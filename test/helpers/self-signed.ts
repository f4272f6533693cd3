// A registry endpoint behind a self-signed *leaf* certificate (no CA above it, keyUsage without keyCertSign), as
// many small private registries run: the certificate is its own trust anchor.
import { listenLocal } from '../harness/listen.js';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SelfSignedRegistry {
  host: string;
  certPath: string;
  close(): Promise<void>;
}

/** Answers `GET /v2/` with 200 and the distribution API header, over TLS with a fresh self-signed leaf for 127.0.0.1. */
export async function startSelfSignedRegistry(days = 90): Promise<SelfSignedRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'dhe-selfsigned-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  await run('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyPath, '-out', certPath,
    '-days', String(days), '-subj', '/CN=selfsigned.test', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment', '-addext', 'basicConstraints=critical,CA:FALSE',
  ]);
  const server: Server = createServer({ key: readFileSync(keyPath), cert: readFileSync(certPath) }, (_req, res) => {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    res.setHeader('Content-Type', 'application/json');
    res.end('{}');
  });
  const listening = await listenLocal(server);
  return {
    host: listening.host,
    certPath,
    async close() {
      await listening.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { listenLocal };
