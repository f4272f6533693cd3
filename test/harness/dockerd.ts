// Starts a real docker daemon (Debian's docker.io 20.10: /usr/sbin/dockerd, with its own containerd and runc) on a
// private socket, so tests can use docker as an independent producer and consumer of what dhe-cli pushes, saves
// and loads. No vitest imports here (like harness.ts). Needs root; started by the one test file that needs it.
//
// Everything the daemon writes lives under one temp folder: data-root (images, vfs layers, containerd's root),
// exec-root (containerd's state and socket, runc's state), the pid file, the daemon config, the trust key and the
// log. Outside it, dockerd and containerd create /run/docker/plugins and /run/containerd/s (shim sockets): removed
// at stop when they did not exist before and are empty. Registry CAs go to /etc/docker/certs.d/HOST:PORT/ca.crt
// (dockerd reads CAs from nowhere else) and are removed at stop.
//
// Beware: dockerd always treats 127.0.0.0/8 as an insecure registry range (moby registry/config.go,
// loadInsecureRegistries appends "127.0.0.0/8"; isCIDRMatch resolves host names first, so `localhost` is insecure
// too). For such a registry dockerd skips TLS verification, ignores certs.d, and falls back to plain HTTP when HTTPS
// fails. A CA in certs.d only matters for a registry whose name does not resolve to loopback (see `env.HTTPS_PROXY`).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const DOCKERD_BIN = process.env.DHE_DOCKERD_BIN ?? '/usr/sbin/dockerd';
/** The client used by the tests: Debian's docker 20.10 CLI, the daemon's own version (not /usr/local/bin/docker). */
export const DOCKER_BIN = process.env.DHE_DOCKER_BIN ?? '/usr/bin/docker';
const CERTS_D = '/etc/docker/certs.d';
/** Folders dockerd / containerd create outside data-root and exec-root whatever the flags. */
const OUTSIDE_DIRS = ['/run/docker/plugins', '/run/docker', '/run/containerd/s', '/run/containerd'];

export interface DockerdOptions {
  /** `--insecure-registry HOST:PORT` entries (e.g. the harness's plain-HTTP registry). */
  insecureRegistries?: string[];
  /** CAs to trust: written to /etc/docker/certs.d/HOST:PORT/ca.crt (removed at stop). */
  registryCAs?: { host: string; caCert: string }[];
  /** Extra environment for dockerd (e.g. HTTPS_PROXY; Go never proxies loopback addresses). */
  env?: Record<string, string>;
  /** How long to wait for `GET /_ping` to answer (default 60 s). */
  startTimeoutMs?: number;
  /** Keep the temp folder at stop (also when DHE_HARNESS_KEEP=1). */
  keep?: boolean;
}

export interface DockerResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Dockerd {
  dir: string;
  socket: string;
  /** `unix:///…/docker.sock` */
  dockerHost: string;
  logFile: string;
  pid: number;
  /** Milliseconds from spawn until `/_ping` answered OK. */
  startupMs: number;
  dockerBin: string;
  /** Environment for a docker client: DOCKER_HOST, and a private DOCKER_CONFIG and HOME unless given. */
  clientEnv(dockerConfig?: string): Record<string, string>;
  /** Runs the docker client (DOCKER_BIN) against this daemon. Never rejects on a non-zero exit. */
  docker(args: string[], opts?: { input?: string | Buffer; dockerConfig?: string; timeoutMs?: number }): Promise<DockerResult>;
  /** Like docker(), but rejects with the command, exit code and output when it fails. */
  dockerOk(args: string[], opts?: { input?: string | Buffer; dockerConfig?: string; timeoutMs?: number }): Promise<string>;
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

function tailOf(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

function ping(socket: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 && body === 'OK'));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** PIDs of processes whose command line names `dir` (containerd and its shims, when dockerd died first). */
function processesUnder(dir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(dir)) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out.filter((p) => p !== process.pid);
}

async function waitGone(pids: number[], ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (pids.every((p) => !alive(p))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pids.every((p) => !alive(p));
}

/** Mount points at or under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  const unescape = (s: string) => s.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const mp = line.split(' ')[1];
    if (mp && (unescape(mp) === dir || unescape(mp).startsWith(dir + '/'))) out.push(unescape(mp));
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Why dockerd cannot run here, in one line, or undefined. */
function cannotRun(): string | undefined {
  if (!existsSync(DOCKERD_BIN)) return `${DOCKERD_BIN} is missing (install Debian's docker.io)`;
  if (!existsSync(DOCKER_BIN)) return `${DOCKER_BIN} is missing (install Debian's docker.io)`;
  if (process.getuid && process.getuid() !== 0) return `dockerd needs root, and the tests run as uid ${process.getuid()}`;
  return undefined;
}

export async function startDockerd(opts: DockerdOptions = {}): Promise<Dockerd> {
  const why = cannotRun();
  if (why) throw new Error(`dockerd cannot start: ${why}`);

  // unix socket paths must stay under 108 bytes: fall back to /tmp when TMPDIR is long
  let base = tmpdir();
  if (join(base, 'dhe-dockerd-XXXXXX', 'exec', 'containerd', 'containerd.sock.ttrpc').length > 100) base = '/tmp';
  const dir = await mkdtemp(join(base, 'dhe-dockerd-'));
  const socket = join(dir, 'docker.sock');
  const dataRoot = join(dir, 'data');
  const execRoot = join(dir, 'exec');
  const pidFile = join(dir, 'dockerd.pid');
  const logFile = join(dir, 'dockerd.log');
  const configFile = join(dir, 'daemon.json');
  const clientHome = join(dir, 'client');
  await mkdir(dataRoot, { recursive: true });
  await mkdir(execRoot, { recursive: true });
  await mkdir(join(clientHome, '.docker'), { recursive: true });
  // flags for everything the brief names; the config file only for what has no flag here (the trust key, which
  // otherwise goes to /etc/docker/key.json)
  await writeFile(configFile, JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') }, null, 2));

  const outsideBefore = new Set(OUTSIDE_DIRS.filter((d) => existsSync(d)));
  const wroteCerts: string[] = [];
  const madeCertDirs: string[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let exitInfo: string | undefined;
  let stopped = false;

  const onExit = (): void => {
    // last resort when the test process ends without stop(): dockerd stops its containerd on SIGTERM
    if (child?.pid && exitInfo === undefined) child.kill('SIGTERM');
  };
  process.on('exit', onExit);

  const cleanup = async (keepLog = false): Promise<void> => {
    if (stopped) return;
    process.removeListener('exit', onExit);
    stopped = true;
    const pid = child?.pid;
    if (pid && alive(pid) && exitInfo === undefined) {
      child!.kill('SIGTERM');
      const gone = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000))]);
      if (!gone) {
        child!.kill('SIGKILL');
        await exited;
      }
    }
    // containerd (and any shim) outlive a dockerd that was killed: end them by PID
    const leftovers = [readPid(join(execRoot, 'containerd', 'containerd.pid')), ...processesUnder(dir)].filter(
      (p): p is number => p !== undefined && alive(p),
    );
    for (const p of leftovers) process.kill(p, 'SIGTERM');
    if (!(await waitGone(leftovers, 5000))) for (const p of leftovers) if (alive(p)) process.kill(p, 'SIGKILL');
    for (const mp of mountsUnder(dir)) await run('umount', ['-l', mp]).catch(() => undefined);
    for (const f of wroteCerts) await rm(f, { force: true });
    for (const d of madeCertDirs.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        /* not empty: someone else's */
      }
    }
    for (const d of OUTSIDE_DIRS) {
      if (outsideBefore.has(d)) continue;
      try {
        rmdirSync(d);
      } catch {
        /* absent or not empty */
      }
    }
    if (opts.keep || process.env.DHE_HARNESS_KEEP === '1') return;
    if (keepLog) await copyFile(logFile, `${dir}.log`).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };

  try {
    for (const { host, caCert } of opts.registryCAs ?? []) {
      const hostDir = join(CERTS_D, host);
      if (existsSync(hostDir)) throw new Error(`dockerd cannot start: ${hostDir} already exists (someone else's CA?)`);
      for (let d = hostDir; !existsSync(d); d = dirname(d)) madeCertDirs.unshift(d);
      await mkdir(hostDir, { recursive: true });
      const dest = join(hostDir, 'ca.crt');
      await copyFile(caCert, dest);
      wroteCerts.push(dest);
    }

    const args = [
      '--config-file', configFile,
      '--host', `unix://${socket}`,
      '--data-root', dataRoot,
      '--exec-root', execRoot,
      '--pidfile', pidFile,
      '--storage-driver=vfs',
      '--iptables=false',
      '--ip6tables=false',
      '--bridge=none',
      // dockerd starts its own containerd (root under data-root, state and socket under exec-root) as long as no
      // system containerd answers at /run/containerd/containerd.sock; private namespaces keep clear of one anyway
      '--containerd-namespace', `dhe-${process.pid}`,
      '--containerd-plugins-namespace', `dhe-${process.pid}-plugins`,
      ...(opts.insecureRegistries ?? []).flatMap((r) => ['--insecure-registry', r]),
    ];
    const out = openSync(logFile, 'a');
    const t0 = Date.now();
    child = spawn(DOCKERD_BIN, args, {
      stdio: ['ignore', out, out],
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...opts.env },
    });
    closeSync(out);
    exited = new Promise<void>((resolve) => {
      child!.on('exit', (code, signal) => {
        exitInfo = signal ? `signal ${signal}` : `exit code ${code}`;
        resolve();
      });
      child!.on('error', (e) => {
        exitInfo = e.message;
        resolve();
      });
    });
    const timeout = opts.startTimeoutMs ?? 60_000;
    for (;;) {
      if (exitInfo !== undefined) {
        const last = tailOf(logFile, 40).split('\n').filter((l) => /level=(fatal|error)|failed|Error/i.test(l)).pop();
        const said = last ?? (tailOf(logFile, 1) || 'it logged nothing');
        throw new Error(`dockerd cannot start: it ended (${exitInfo}) before answering /_ping: ${said} (log: ${dir}.log)`);
      }
      if (await ping(socket)) break;
      if (Date.now() - t0 > timeout) throw new Error(`dockerd cannot start: /_ping did not answer within ${timeout} ms (log: ${dir}.log)`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const startupMs = Date.now() - t0;

    const clientEnv = (dockerConfig?: string): Record<string, string> => ({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: clientHome,
      DOCKER_HOST: `unix://${socket}`,
      DOCKER_CONFIG: dockerConfig ?? join(clientHome, '.docker'),
    });
    const docker: Dockerd['docker'] = (cargs, o = {}) =>
      new Promise((resolve, reject) => {
        const c = spawn(DOCKER_BIN, cargs, { env: clientEnv(o.dockerConfig), stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        const timer = setTimeout(() => c.kill('SIGKILL'), o.timeoutMs ?? 60_000);
        c.on('error', reject);
        c.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
        // a docker command that exits before reading its input (most do) closes the pipe: not an error
        c.stdin.on('error', () => {});
        c.stdin.end(o.input ?? '');
      });
    const dockerOk: Dockerd['dockerOk'] = async (cargs, o) => {
      const r = await docker(cargs, o);
      if (r.code !== 0) throw new Error(`docker ${cargs.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
      return r.stdout;
    };
    return {
      dir,
      socket,
      dockerHost: `unix://${socket}`,
      logFile,
      pid: child.pid!,
      startupMs,
      dockerBin: DOCKER_BIN,
      clientEnv,
      docker,
      dockerOk,
      logTail: (n) => tailOf(logFile, n),
      stop: () => cleanup(),
    };
  } catch (e) {
    await cleanup(true);
    throw e;
  }
}
