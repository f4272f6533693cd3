// An HTTPS front for `doctor --trust` tests: a given certificate (a private CA's, or self-signed), a few fixed
// answers (DTR's `/ca`, Harbor's `/api/v2.0/systeminfo/getcert`, a hostile CA file), and everything else passed to a
// real registry behind it (the harness's plain distribution), so a pull through the front is a real pull. Without
// an upstream it answers `GET /v2/` with 200 like a registry and 404 otherwise. The PKI is made with openssl.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onFileEnd } from './cleanup.js';
import { listenLocal } from './self-signed.js';

const run = promisify(execFile);

export interface TlsFrontOptions {
  key: string | Buffer;
  cert: string | Buffer;
  /** Fixed 200 answers by path, e.g. { '/ca': caPem }. */
  answers?: Record<string, string>;
  /** Where every other request goes ("http://127.0.0.1:PORT"). */
  upstream?: string;
}

export interface TlsFront {
  /** "127.0.0.1:PORT" */
  host: string;
  /** Paths asked, in order. */
  paths: string[];
  close(): Promise<void>;
}

export async function startTlsFront(opts: TlsFrontOptions): Promise<TlsFront> {
  const paths: string[] = [];
  const server: Server = createServer({ key: opts.key, cert: opts.cert }, (req, res) => {
    const path = req.url ?? '/';
    paths.push(path);
    const fixed = opts.answers?.[path];
    if (fixed !== undefined) {
      res.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(fixed);
      return;
    }
    if (!opts.upstream) {
      res.setHeader('docker-distribution-api-version', 'registry/2.0');
      res.writeHead(path === '/v2/' ? 200 : 404, { 'content-type': 'application/json' }).end(path === '/v2/' ? '{}' : '{"errors":[]}');
      return;
    }
    const up = new URL(opts.upstream);
    const fwd = httpRequest({ host: up.hostname, port: up.port, method: req.method, path, headers: { ...req.headers, host: up.host } }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    fwd.once('error', () => res.destroy());
    req.pipe(fwd);
  });
  const listening = await listenLocal(server);
  return { host: listening.host, paths, close: () => listening.close() };
}

export interface Issued {
  cert: string;
  key: string;
  certPath: string;
}

/** A folder of openssl-made certificates, removed after the test file. */
export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'dhe-trust-pki-'));
  constructor(private readonly openssl: string) {
    onFileEnd(() => rmSync(this.dir, { recursive: true, force: true }));
  }

  private async ossl(args: string[]): Promise<void> {
    await run(this.openssl, args, { cwd: this.dir });
  }

  private read(name: string): Issued {
    const certPath = join(this.dir, `${name}.crt`);
    return { cert: readFileSync(certPath, 'utf8'), key: readFileSync(join(this.dir, `${name}.key`), 'utf8'), certPath };
  }

  /** A self-signed certificate: a root CA, or (ca false) a self-signed 127.0.0.1 leaf without keyCertSign. */
  async selfSigned(name: string, cn: string, ca: boolean): Promise<Issued> {
    const ext = ca
      ? ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']
      : ['-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment', '-addext', 'subjectAltName=IP:127.0.0.1'];
    await this.ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '60', '-subj', `/CN=${cn}`, ...ext]);
    return this.read(name);
  }

  /** A root CA valid only in 2020 (OpenSSL 3.0's `x509 -req` cannot back-date: `openssl ca -selfsign` can). */
  async expiredCa(name: string, cn: string): Promise<Issued> {
    const db = join(this.dir, `${name}-db`);
    mkdirSync(db);
    writeFileSync(join(db, 'index.txt'), '');
    writeFileSync(join(db, 'serial'), '01\n');
    writeFileSync(
      join(this.dir, `${name}.cnf`),
      `[ca]\ndefault_ca = c\n[c]\ndir = ${this.dir}\ndatabase = ${db}/index.txt\nnew_certs_dir = ${db}\nserial = ${db}/serial\n` +
        'default_md = sha256\npolicy = p\nunique_subject = no\ncopy_extensions = none\n[p]\ncommonName = supplied\n' +
        '[ext]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n',
    );
    await this.ossl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`]);
    await this.ossl(['ca', '-batch', '-config', `${name}.cnf`, '-selfsign', '-keyfile', `${name}.key`, '-in', `${name}.csr`, '-startdate', '20200101000000Z', '-enddate', '20210101000000Z', '-extensions', 'ext', '-out', `${name}.crt`]);
    return this.read(name);
  }

  /** A 127.0.0.1 server certificate signed by `issuer` (a name given to selfSigned before). */
  async leaf(name: string, issuer: string, cn = '127.0.0.1'): Promise<Issued> {
    await this.ossl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-subj', `/CN=${cn}`, '-out', `${name}.csr`]);
    writeFileSync(join(this.dir, `${name}.ext`), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n');
    await this.ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-set_serial', String(Date.now()), '-days', '30', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
    return this.read(name);
  }

  /** What `openssl x509 -fingerprint -sha256` says, as dhe-cli shows it: "sha256:" + lower-case hex, no colons. */
  async fingerprint(certPath: string): Promise<string> {
    const { stdout } = await run(this.openssl, ['x509', '-in', certPath, '-noout', '-fingerprint', '-sha256']);
    const hex = /=([0-9A-F:]+)/.exec(stdout)?.[1];
    if (!hex) throw new Error(`openssl printed no fingerprint: ${stdout}`);
    return `sha256:${hex.replace(/:/g, '').toLowerCase()}`;
  }
}
