// Starts the real registry server (CNCF distribution 2.8.2, Debian's `docker-registry`) in every TLS and auth
// flavour the tests need, plus our token servers and an nginx front for the DHE shape. No vitest imports here:
// scripts (`scripts/demo.mjs`, `bench/`) use the compiled copy in `.tmp/harness-dist/`.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, fetch } from 'undici';
import { makePki, type Pki } from './certs.js';
import { startTokenServer, type TokenServer } from './token-server.js';
import {
  ALL_FLAVOURS,
  type Endpoint,
  type FlavourName,
  type HarnessInfo,
  type TokenLogEntry,
  type UserCredentials,
} from './types.js';

export * from './types.js';
export { startTokenServer, parseScopes, type TokenServer, type TokenServerOptions } from './token-server.js';
export { makePki, type Pki, type CertFiles } from './certs.js';

const run = promisify(execFile);

export const REGISTRY_BIN = process.env.DHE_REGISTRY_BIN ?? '/usr/bin/docker-registry';
export const NGINX_BIN = process.env.DHE_NGINX_BIN ?? '/usr/sbin/nginx';
/** nginx `client_max_body_size` of the `dhe` front. */
export const DHE_BODY_LIMIT_BYTES = 4 * 1024 * 1024;
const TOKEN_ISSUER = 'dhe-cli-test-issuer';
const START_TIMEOUT_MS = 20_000;

export interface HarnessOptions {
  /** Flavours to start; default all. Certificates are always made. */
  flavours?: FlavourName[];
  /** Where certs, configs, storage and logs go; default a fresh temp dir, removed by stop(). */
  workDir?: string;
  /** Keep the work dir on stop() (also when DHE_HARNESS_KEEP=1). */
  keepWorkDir?: boolean;
}

export interface Harness extends HarnessInfo {
  stop(): Promise<void>;
  /** In-process handles on the token servers (e.g. `pause()` / `start()` to simulate an outage). */
  tokenServers: { token?: TokenServer; dhe?: TokenServer };
}

// ---------------------------------------------------------------------------------------------------------
// processes

interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<number | null>;
  exitCode: number | null | undefined;
}

const live = new Set<Proc>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort against orphans if the parent exits without calling stop(). SIGTERM lets nginx reap its workers.
  process.on('exit', killAllLive);
  // A signal's default action exits without the 'exit' event: stop the servers, then let the signal do its work
  // (re-raised only when nobody else, e.g. vitest, handles it).
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllLive();
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

function killAllLive(): void {
  for (const p of live) {
    try {
      if (p.child.pid) process.kill(p.child.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
  }
}

function spawnLogged(name: string, cmd: string, args: string[], logFile: string, cwd: string): Proc {
  installExitHook();
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, {
    cwd,
    stdio: ['ignore', fd, fd],
    // A clean environment: distribution reads REGISTRY_* variables as config overrides.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, TMPDIR: cwd },
  });
  closeSync(fd);
  const proc: Proc = {
    name,
    child,
    logFile,
    exitCode: undefined,
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        proc.exitCode = code ?? (signal ? -1 : null);
        live.delete(proc);
        resolve(code);
      });
      child.once('error', () => {
        proc.exitCode = -1;
        live.delete(proc);
        resolve(-1);
      });
    }),
  };
  live.add(proc);
  return proc;
}

async function stopProc(p: Proc): Promise<void> {
  if (p.exitCode !== undefined) return;
  p.child.kill('SIGTERM');
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 5_000).unref());
  if ((await Promise.race([p.exited, timer])) === 'timeout') {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}

function tcpReady(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Inodes of the TCP sockets listening on 127.0.0.1:`port` (or any address), from /proc/net/tcp; null without /proc. */
function listeningInodes(port: number): string[] | null {
  let text: string;
  try {
    text = readFileSync('/proc/net/tcp', 'utf8');
  } catch {
    return null;
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A') continue; // 0A = LISTEN
    const [addr, p] = (f[1] ?? '').split(':');
    if (p === hexPort && (addr === '0100007F' || addr === '00000000')) out.push(f[9]!);
  }
  return out;
}

/** Whether process `pid` holds one of the socket `inodes` (null: cannot tell, no /proc/PID/fd). */
function holdsSocket(pid: number, inodes: string[]): boolean | null {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return null;
  }
  const want = new Set(inodes.map((i) => `socket:[${i}]`));
  for (const fd of fds) {
    try {
      if (want.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return true;
    } catch {
      /* closed meanwhile */
    }
  }
  return false;
}

/** A server could not bind its port: another process took it between freePorts() and the server's start. */
class PortTaken extends Error {}

/**
 * Resolves when `p` itself listens on `port`. Rejects with PortTaken when the port is someone else's (the server
 * exited saying "address already in use", or another process listens there), with an Error for anything else.
 */
async function waitListening(p: Proc, port: number): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (p.exitCode !== undefined) {
      const log = tail(p.logFile);
      if (/address already in use|Address in use|could not bind/i.test(log)) throw new PortTaken(`${p.name}: 127.0.0.1:${port} was taken`);
      throw new Error(`${p.name} exited with code ${p.exitCode} while starting.\n${log}`);
    }
    const inodes = listeningInodes(port);
    if (inodes === null) {
      if (await tcpReady(port)) return; // no /proc: cannot tell whose listener it is
    } else if (inodes.length > 0 && p.child.pid) {
      const ours = holdsSocket(p.child.pid, inodes);
      if (ours === true || (ours === null && (await tcpReady(port)))) return;
      // someone else listens there (nginx retries its bind for a while before it gives up: do not wait for it)
      if (ours === false && !(await stillBinding(p, port))) throw new PortTaken(`${p.name}: 127.0.0.1:${port} is another process's`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${p.name} did not listen on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms.\n${tail(p.logFile)}`);
}

/** A listener on the port that is not `p`'s may still become `p`'s only if `p` has not said its bind failed. */
async function stillBinding(p: Proc, port: number): Promise<boolean> {
  await new Promise((r) => setTimeout(r, 100));
  const inodes = listeningInodes(port) ?? [];
  return p.exitCode === undefined && !!p.child.pid && holdsSocket(p.child.pid, inodes) === true;
}

/**
 * Starts a server on a free port, retrying with another port when it was taken before the server could bind it
 * (ports come from freePorts(), which must release them before the server binds: other test files start servers
 * and open connections at the same time). `start` must clean up after itself when it throws.
 */
async function onFreePort<T>(what: string, start: (port: number) => Promise<T>, attempts = 6): Promise<T> {
  let last: unknown;
  for (let i = 0; i < attempts; i++) {
    const [port] = await freePorts(1);
    try {
      return await start(port!);
    } catch (e) {
      if (!(e instanceof PortTaken)) throw e;
      last = e;
    }
  }
  throw new Error(`${what}: no free port after ${attempts} attempts (${last instanceof Error ? last.message : String(last)})`);
}

/** Reserves `n` distinct free ports on 127.0.0.1 (held open together, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve(s));
      }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function tail(file: string, maxBytes = 8_000): string {
  try {
    const size = statSync(file).size;
    const fd = openSync(file, 'r');
    try {
      const len = Math.min(size, maxBytes);
      const buf = Buffer.alloc(len);
      readSync(fd, buf, 0, len, size - len);
      return `--- ${file} (last ${len} of ${size} bytes) ---\n${buf.toString('utf8')}`;
    } finally {
      closeSync(fd);
    }
  } catch {
    return `--- ${file}: no log ---`;
  }
}

// ---------------------------------------------------------------------------------------------------------
// configs

interface RegistryTls {
  certificate: string;
  key: string;
  clientcas?: string[];
}

interface RegistryAuth {
  htpasswd?: { realm: string; path: string };
  token?: { realm: string; service: string; issuer: string; rootcertbundle: string };
}

async function writeRegistryConfig(dir: string, port: number, tls?: RegistryTls, auth?: RegistryAuth): Promise<string> {
  await mkdir(join(dir, 'storage'), { recursive: true });
  // JSON is YAML: no quoting pitfalls.
  const config = {
    version: '0.1',
    log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
    storage: {
      filesystem: { rootdirectory: join(dir, 'storage') },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: `127.0.0.1:${port}`,
      secret: randomBytes(16).toString('hex'),
      headers: { 'X-Content-Type-Options': ['nosniff'] },
      ...(tls ? { tls } : {}),
    },
    ...(auth ? { auth } : {}),
    health: { storagedriver: { enabled: false } },
  };
  const file = join(dir, 'config.yml');
  await writeFile(file, JSON.stringify(config, null, 2));
  return file;
}

function nginxConfig(o: {
  dir: string;
  port: number;
  cert: string;
  key: string;
  registryPort: number;
  tokenPort: number;
  logFile: string;
}): string {
  const proxied = `
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Real-IP $remote_addr;
      proxy_set_header Connection "";
      proxy_request_buffering off;
      proxy_buffering off;
      proxy_read_timeout 900s;
      proxy_send_timeout 900s;`;
  return `# generated by test/harness/harness.ts
worker_processes 1;
user root;
pid ${o.dir}/nginx.pid;
error_log ${o.logFile} info;
events { worker_connections 512; }
http {
  access_log ${o.logFile};
  client_body_temp_path ${o.dir}/tmp/body;
  proxy_temp_path ${o.dir}/tmp/proxy;
  fastcgi_temp_path ${o.dir}/tmp/fastcgi;
  uwsgi_temp_path ${o.dir}/tmp/uwsgi;
  scgi_temp_path ${o.dir}/tmp/scgi;
  client_max_body_size ${DHE_BODY_LIMIT_BYTES};
  chunked_transfer_encoding on;
  server_tokens off;
  upstream registry { server 127.0.0.1:${o.registryPort}; keepalive 8; }
  upstream tokens { server 127.0.0.1:${o.tokenPort}; keepalive 4; }
  server {
    listen 127.0.0.1:${o.port} ssl;
    server_name 127.0.0.1 localhost;
    ssl_certificate ${o.cert};
    ssl_certificate_key ${o.key};
    ssl_protocols TLSv1.2 TLSv1.3;
    location /v2/ {
      proxy_pass http://registry;${proxied}
    }
    location /auth/v2/token {
      proxy_pass http://tokens;${proxied}
    }
    location / { return 404; }
  }
}
`;
}

// ---------------------------------------------------------------------------------------------------------
// the harness

function endpoint(scheme: 'http' | 'https', port: number, logFile: string): Endpoint {
  return { host: `127.0.0.1:${port}`, url: `${scheme}://127.0.0.1:${port}`, logFile };
}

async function htpasswdFile(file: string, users: UserCredentials[]): Promise<void> {
  const lines: string[] = [];
  for (const u of users) {
    const { stdout } = await run('htpasswd', ['-Bbn', u.username, u.password]);
    lines.push(stdout.trim());
  }
  await writeFile(file, lines.join('\n') + '\n');
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const flavours = new Set<FlavourName>(opts.flavours ?? ALL_FLAVOURS);
  const ownDir = !opts.workDir;
  const workDir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'dhe-harness-')));
  await mkdir(workDir, { recursive: true });
  const keep = opts.keepWorkDir ?? process.env.DHE_HARNESS_KEEP === '1';

  for (const bin of [REGISTRY_BIN, ...(flavours.has('dhe') ? [NGINX_BIN] : [])]) {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run .ci/run or apt-get install docker-registry nginx-light`);
  }

  const procs: Proc[] = [];
  const tokenServers: Harness['tokenServers'] = {};
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all([
      ...procs.map(stopProc),
      tokenServers.token?.stop(),
      tokenServers.dhe?.stop(),
    ]);
    if (ownDir && !keep) await rm(workDir, { recursive: true, force: true });
  };

  try {
    const pki: Pki = await makePki(join(workDir, 'pki'));
    const users = {
      full: { username: 'full', password: `full-${randomBytes(9).toString('base64url')}` },
      pullonly: { username: 'pullonly', password: `pull-${randomBytes(9).toString('base64url')}` },
    };
    const htpasswd = join(workDir, 'htpasswd');
    await htpasswdFile(htpasswd, [users.full, users.pullonly]);

    const info = {
      workDir,
      caCert: pki.ca.cert,
      untrustedCaCert: pki.untrustedCa.cert,
      clientCert: pki.client.cert,
      clientKey: pki.client.key,
      users,
      flavours: ALL_FLAVOURS.filter((f) => flavours.has(f)),
    } as HarnessInfo;

    const goodTls: RegistryTls = { certificate: pki.server.cert, key: pki.server.key };
    const starts: Promise<void>[] = [];
    /** One attempt: a registry on `p`; PortTaken (after stopping it) when `p` was not free after all. */
    const registryOn = async (name: string, p: number, tls?: RegistryTls, auth?: RegistryAuth): Promise<Endpoint> => {
      const dir = join(workDir, name);
      const logFile = join(dir, 'registry.log');
      const config = await writeRegistryConfig(dir, p, tls, auth);
      await rm(logFile, { force: true }); // a failed attempt's "address already in use" must not be read again
      const proc = spawnLogged(`registry ${name}`, REGISTRY_BIN, ['serve', config], logFile, dir);
      procs.push(proc);
      try {
        await waitListening(proc, p);
      } catch (e) {
        await stopProc(proc);
        throw e;
      }
      return endpoint(tls ? 'https' : 'http', p, logFile);
    };
    const registry = (name: string, tls?: RegistryTls, auth?: RegistryAuth): Promise<Endpoint> =>
      onFreePort(`registry ${name}`, (p) => registryOn(name, p, tls, auth));
    const later = (f: () => Promise<void>) => starts.push(f());

    if (flavours.has('plain')) later(async () => void (info.plain = await registry('plain')));
    if (flavours.has('basic')) {
      later(async () => void (info.basic = await registry('basic', goodTls, { htpasswd: { realm: 'dhe-cli basic realm', path: htpasswd } })));
    }
    if (flavours.has('untrusted')) {
      later(async () => void (info.untrusted = await registry('untrusted', { certificate: pki.untrustedServer.cert, key: pki.untrustedServer.key })));
    }
    if (flavours.has('mismatch')) {
      later(async () => {
        info.mismatch = { ...(await registry('mismatch', { certificate: pki.mismatch.cert, key: pki.mismatch.key })), certNames: pki.mismatch.names };
      });
    }
    if (flavours.has('expired')) {
      later(async () => {
        info.expired = { ...(await registry('expired', { certificate: pki.expired.cert, key: pki.expired.key })), notAfter: pki.expired.notAfter };
      });
    }
    if (flavours.has('mtls')) later(async () => void (info.mtls = await registry('mtls', { ...goodTls, clientcas: [pki.clientCa.cert] })));
    if (flavours.has('token')) {
      // the token server's service names the registry's port: both start again when that port was taken
      later(async () => {
        info.token = await onFreePort('registry token', async (p) => {
          const service = `127.0.0.1:${p}`;
          const ts = await startTokenServer({
            issuer: TOKEN_ISSUER,
            service,
            signingKey: pki.tokenSigner.key,
            signingCert: pki.tokenSigner.cert,
            users,
            tls: { cert: pki.server.cert, key: pki.server.key },
          });
          tokenServers.token = ts;
          const realm = `${ts.url}/token`;
          try {
            const ep = await registryOn('token', p, goodTls, { token: { realm, service, issuer: TOKEN_ISSUER, rootcertbundle: pki.tokenSigner.cert } });
            return { ...ep, realm, service, issuer: TOKEN_ISSUER, tokenServerUrl: ts.url };
          } catch (e) {
            await ts.stop();
            throw e;
          }
        });
      });
    }
    if (flavours.has('dhe')) {
      // realm and service name nginx's port: token server, upstream and nginx start again when it was taken
      later(async () => {
        info.dhe = await onFreePort('nginx dhe', async (front) => {
          const service = `127.0.0.1:${front}`;
          const realm = `https://127.0.0.1:${front}/auth/v2/token/`;
          const ts = await startTokenServer({
            issuer: TOKEN_ISSUER,
            service,
            signingKey: pki.tokenSigner.key,
            signingCert: pki.tokenSigner.cert,
            users,
          });
          tokenServers.dhe = ts;
          // this attempt's own processes (procs also gains the other flavours' meanwhile)
          const mine = new Set<Proc>();
          const before = new Set(procs);
          try {
            const upstream = await registry('dhe-upstream', undefined, {
              token: { realm, service, issuer: TOKEN_ISSUER, rootcertbundle: pki.tokenSigner.cert },
            });
            for (const x of procs) if (!before.has(x) && x.name === 'registry dhe-upstream') mine.add(x);
            const dir = join(workDir, 'dhe');
            const logFile = join(dir, 'nginx.log');
            for (const t of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
              await mkdir(join(dir, 'tmp', t), { recursive: true });
            }
            const conf = join(dir, 'nginx.conf');
            await writeFile(
              conf,
              nginxConfig({
                dir,
                port: front,
                cert: pki.server.cert,
                key: pki.server.key,
                registryPort: Number(new URL(upstream.url).port),
                tokenPort: ts.port,
                logFile,
              }),
            );
            await rm(logFile, { force: true });
            const proc = spawnLogged('nginx dhe', NGINX_BIN, ['-p', dir, '-c', conf, '-e', logFile, '-g', 'daemon off;'], logFile, dir);
            procs.push(proc);
            mine.add(proc);
            await waitListening(proc, front);
            return {
              ...endpoint('https', front, logFile),
              realm,
              service,
              issuer: TOKEN_ISSUER,
              bodyLimitBytes: DHE_BODY_LIMIT_BYTES,
              tokenServerUrl: ts.url,
              upstream,
            };
          } catch (e) {
            await Promise.all([...[...mine].map(stopProc), ts.stop()]);
            throw e;
          }
        });
      });
    }

    const results = await Promise.allSettled(starts);
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failures.length > 0) {
      throw new Error(
        `harness: ${failures.length} server(s) failed to start:\n` +
          failures.map((f) => (f.reason instanceof Error ? f.reason.message : String(f.reason))).join('\n'),
      );
    }
    return { ...info, stop, tokenServers };
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
}

/** Strips the functions, leaving the JSON-serialisable HarnessInfo (what vitest `provide`s). */
export function harnessInfo(h: Harness): HarnessInfo {
  const { stop: _stop, tokenServers: _ts, ...info } = h;
  return JSON.parse(JSON.stringify(info)) as HarnessInfo;
}

// ---------------------------------------------------------------------------------------------------------
// helpers for tests and scripts

function dispatcherFor(url: string, caCertPath?: string): Agent | undefined {
  if (!url.startsWith('https:') || !caCertPath) return undefined;
  return new Agent({ connect: { ca: readFileSync(caCertPath) } });
}

/** The token server's request log (no secrets), oldest first. `since` = last seq already seen. */
export async function tokenLog(tokenServerUrl: string, caCertPath?: string, since = 0): Promise<TokenLogEntry[]> {
  const dispatcher = dispatcherFor(tokenServerUrl, caCertPath);
  try {
    const res = await fetch(`${tokenServerUrl}/_log?since=${since}`, dispatcher ? { dispatcher } : {});
    if (!res.ok) throw new Error(`token log: HTTP ${res.status}`);
    return (await res.json()) as TokenLogEntry[];
  } finally {
    await dispatcher?.close();
  }
}

/** Test-only: the access and refresh tokens a token server issued, from index `since` on; `next` = the next index. */
export async function issuedTokens(tokenServerUrl: string, caCertPath?: string, since = 0): Promise<{ next: number; tokens: string[] }> {
  const dispatcher = dispatcherFor(tokenServerUrl, caCertPath);
  try {
    const res = await fetch(`${tokenServerUrl}/_issued?since=${since}`, dispatcher ? { dispatcher } : {});
    if (!res.ok) throw new Error(`issued tokens: HTTP ${res.status}`);
    return (await res.json()) as { next: number; tokens: string[] };
  } finally {
    await dispatcher?.close();
  }
}

/** Makes the token server stop listening for `ms` milliseconds (connection refused), then listen again. */
export async function tokenServerDown(tokenServerUrl: string, ms: number, caCertPath?: string): Promise<void> {
  const dispatcher = dispatcherFor(tokenServerUrl, caCertPath);
  try {
    const res = await fetch(`${tokenServerUrl}/_control/down?ms=${ms}`, {
      method: 'POST',
      ...(dispatcher ? { dispatcher } : {}),
    });
    if (!res.ok) throw new Error(`token server control: HTTP ${res.status}`);
    await res.arrayBuffer();
  } finally {
    await dispatcher?.close();
  }
  // Wait until it really refuses connections.
  const port = Number(new URL(tokenServerUrl).port);
  const deadline = Date.now() + 2_000;
  while (Date.now() < deadline && (await tcpReady(port))) await new Promise((r) => setTimeout(r, 20));
}

/** What `file` gained since it was `offset` bytes long (at most the last `maxBytes`), or null if nothing. */
export function serverLogSince(file: string, offset: number, maxBytes = 8_000): string | null {
  try {
    const size = statSync(file).size;
    if (size <= offset) return null;
    const start = Math.max(offset, size - maxBytes);
    const buf = Buffer.alloc(size - start);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, start);
    } finally {
      closeSync(fd);
    }
    return `--- ${file} (${size - offset} new bytes${start > offset ? ', last ' + buf.length + ' shown' : ''}) ---\n${buf.toString('utf8')}`;
  } catch {
    return null;
  }
}

/** The tail of an endpoint's log (for `dhe`, nginx's log and the upstream registry's). */
export function serverLog(ep: Endpoint & { upstream?: Endpoint }, maxBytes = 8_000): string {
  const parts = [tail(ep.logFile, maxBytes)];
  if (ep.upstream) parts.push(tail(ep.upstream.logFile, maxBytes));
  return parts.join('\n');
}
