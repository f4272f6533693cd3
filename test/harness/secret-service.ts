// A real OS keychain for tests, headless: a private D-Bus session bus (dbus-daemon) with gnome-keyring's Secret
// Service on it, unlocked with a throw-away password, in a temp HOME. Nothing touches the user's own keyring: the
// CLI (or this process) reaches it only through the DBUS_SESSION_BUS_ADDRESS given in `env`.
//
//   const kc = await startSecretService();        // throws one line when dbus-daemon / gnome-keyring is missing
//   runCli([...], { env: { ...home.env, ...kc.env } });
//   await kc.lookup({ service: 'dhe-cli', username: '127.0.0.1:5000' })  // secret-tool lookup (keyring-rs names the
//                                                                         // account 'username'), undefined if none
//   await kc.stop();                              // by PID: gnome-keyring-daemon, then dbus-daemon; temp dir removed
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SECRET_SERVICE_TOOLS = {
  'dbus-daemon': ['/usr/bin/dbus-daemon', 'dbus-daemon'],
  'gnome-keyring-daemon': ['/usr/bin/gnome-keyring-daemon', 'gnome-keyring'],
  'secret-tool': ['/usr/bin/secret-tool', 'libsecret-tools'],
} as const;

export interface SecretService {
  /** DBUS_SESSION_BUS_ADDRESS (and XDG dirs) for a child that should use this keyring. */
  env: Record<string, string>;
  /** `secret-tool lookup ATTR VALUE…`: the secret, or undefined when there is none. */
  lookup(attrs: Record<string, string>): Promise<string | undefined>;
  stop(): Promise<void>;
}

function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

export async function startSecretService(): Promise<SecretService> {
  for (const [name, [path, pkg]] of Object.entries(SECRET_SERVICE_TOOLS)) {
    if (!existsSync(path)) throw new Error(`${name} is not installed (${path}): apt-get install -y ${pkg}, as .ci/run does`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'dhe-keyring-'));
  const home = join(dir, 'home');
  const run = join(dir, 'run');
  mkdirSync(home, { mode: 0o700 });
  mkdirSync(run, { mode: 0o700 });
  const address = `unix:path=${join(dir, 'bus')}`;
  // a session bus without service activation: only the keyring started below answers for org.freedesktop.secrets
  const busConfig = join(dir, 'bus.conf');
  writeFileSync(
    busConfig,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>${address}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
`,
  );
  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    XDG_RUNTIME_DIR: run,
    XDG_DATA_HOME: join(home, '.local', 'share'),
    DBUS_SESSION_BUS_ADDRESS: address,
  };
  const bus = spawn('/usr/bin/dbus-daemon', [`--config-file=${busConfig}`, '--nofork', '--nopidfile', '--print-address=1'], {
    env: baseEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let busErr = '';
  bus.stderr!.on('data', (d: Buffer) => (busErr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`dbus-daemon did not start within 10 s: ${busErr.trim()}`)), 10_000);
    bus.stdout!.once('data', () => {
      clearTimeout(t);
      resolve();
    });
    bus.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`dbus-daemon exited (${code}): ${busErr.trim()}`));
    });
  });
  // In the foreground, so it is ours to stop by PID; the password on stdin creates and unlocks the login keyring.
  const keyring = spawn('/usr/bin/gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], {
    env: baseEnv,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let krOut = '';
  keyring.stdout!.on('data', (d: Buffer) => (krOut += d.toString()));
  keyring.stderr!.on('data', (d: Buffer) => (krOut += d.toString()));
  keyring.stdin!.end('dhe-test-keyring-password');
  const env = { ...baseEnv };
  const lookup = (attrs: Record<string, string>) =>
    new Promise<string | undefined>((resolve, reject) => {
      execFile('/usr/bin/secret-tool', ['lookup', ...Object.entries(attrs).flat()], { env, timeout: 10_000 }, (err, stdout, stderr) => {
        if (err && (err as { code?: unknown }).code === 1 && !stderr.trim()) return resolve(undefined);
        if (err) return reject(new Error(`secret-tool lookup failed: ${stderr.trim() || err.message}`));
        resolve(stdout === '' ? undefined : stdout);
      });
    });
  const stop = async () => {
    keyring.kill('SIGTERM');
    await waitExit(keyring, 5_000);
    bus.kill('SIGTERM');
    await waitExit(bus, 5_000);
    rmSync(dir, { recursive: true, force: true });
  };
  // ready when the Secret Service answers on the bus
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await lookup({ service: 'dhe-test-ready', account: 'none' });
      if (keyring.exitCode === null) break;
    } catch (e) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`gnome-keyring's Secret Service did not answer on a private D-Bus: ${(e as Error).message}; ${krOut.trim()}`);
      }
    }
    if (keyring.exitCode !== null) {
      await stop();
      throw new Error(`gnome-keyring-daemon exited (${keyring.exitCode}): ${krOut.trim()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { env, lookup, stop };
}
