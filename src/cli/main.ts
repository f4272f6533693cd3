// The command line: commander wiring only. Each command lives in src/cli/commands/<name>.ts and is loaded
// when it runs, so `dhe-cli --version` stays fast.

import { Command, CommanderError, Option } from 'commander';
import { DheError, ExitCode } from '../errors.js';
import { removeTrackedSync } from '../fs/cleanup.js';
import { doctorSuggestion } from './doctor-suggestion.js';
import { UnknownHelpTopic, unknownHelpTopic } from './help-topic.js';
import { Output } from './output.js';
import { packageVersion } from '../version.js';
import { buildContext, type CommandContext, type GlobalFlags } from './context.js';

/** Exit code after SIGTERM (128 + 15, as shells report it); SIGINT keeps 130. */
export const SIGTERM_EXIT = 143;
/** SIGTERM ends every command within a second: this long for a clean unwind, then a forced exit. */
const TERM_DEADLINE_MS = 500;

const collect = (value: string, previous: string[] = []) => [...previous, value];

type Runner = (ctx: CommandContext, ...args: any[]) => Promise<number | void>;
type Loader = () => Promise<{ run: Runner }>;

export interface MainOptions {
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

/**
 * commander's "error: …\n(Did you mean …?)" in our shape: one Error: line and one Hint: line. `command` is the
 * command whose usage was wrong ("pull", "store verify"), so the hint names its help, not a placeholder.
 */
export function usageError(text: string, command = ''): string {
  const lines = text.trim().split('\n').filter(Boolean);
  const first = (lines.shift() ?? '').replace(/^error: /, '');
  const suggestion = lines.map((l) => /^\(?(Did you mean .*\?)\)?$/.exec(l.trim())?.[1]).find(Boolean);
  const hint = suggestion ?? `see 'dhe-cli ${command ? `${command} ` : ''}--help' for usage`;
  return `Error: ${first}\nHint: ${hint}\n`;
}

/** Every command's usage errors name that command's help (commander copies settings to subcommands at creation). */
function nameUsageErrors(cmd: Command, path: string, write: (s: string) => void): void {
  cmd.configureOutput({ outputError: (text) => write(usageError(text, path)) });
  for (const sub of cmd.commands) nameUsageErrors(sub, path ? `${path} ${sub.name()}` : sub.name(), write);
}

export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  const out = new Output(options.stdout ?? process.stdout, options.stderr ?? process.stderr);
  const env = options.env ?? process.env;
  let exitCode: number = ExitCode.OK;
  const controller = new AbortController();
  // SIGINT and SIGTERM take the same path: abort, let the command clean up and print `Error: interrupted`.
  // SIGTERM (exit 143) also has a deadline: whatever is still running after TERM_DEADLINE_MS is cut short, its
  // temporary files removed synchronously (src/fs/cleanup.ts). A second signal of either kind exits at once, the same way.
  let signalled: NodeJS.Signals | undefined;
  let finished = false;
  const codeFor = (sig: NodeJS.Signals | undefined) => (sig === 'SIGTERM' ? SIGTERM_EXIT : ExitCode.INTERRUPTED);
  const exitNow = (code: number) => {
    removeTrackedSync();
    process.exit(code);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      if (!finished) out.error(controller.signal.reason);
      exitNow(finished ? exitCode : codeFor(sig));
    }
    signalled = sig;
    controller.abort(new DheError('INTERRUPTED', sig === 'SIGTERM' ? 'interrupted (SIGTERM)' : 'interrupted', { hint: 'run the command again to finish' }));
    if (sig === 'SIGTERM') {
      setTimeout(() => {
        if (!finished) out.error(controller.signal.reason);
        exitNow(finished ? exitCode : SIGTERM_EXIT);
      }, TERM_DEADLINE_MS).unref();
    }
  };
  const onSigint = () => onSignal('SIGINT');
  const onSigterm = () => onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  // `dhe-cli images -q | head -1`: a reader that goes away is not an error.
  const onPipeError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(exitCode);
  };
  process.stdout.on('error', onPipeError);
  process.stderr.on('error', onPipeError);

  const program = new Command('dhe-cli');
  program
    .description(
      'docker login/tag/push/pull/images against a private registry (DHE, DTR, Harbor, distribution) without a Docker daemon',
    )
    .version(packageVersion(), '-v, --version', 'print the version')
    .option('--config <dir>', 'config and credentials folder (env DHE_CONFIG, default ~/.dhe-cli)')
    .option('--store <dir>', 'local image store, an OCI image layout (env DHE_STORE, default ~/.dhe-cli/store)')
    .option('--ca-cert <file>', 'extra trusted CA certificate (PEM), repeatable (env DHE_CA_CERT)', collect)
    .option('--cert <file>', 'TLS client certificate (PEM)')
    .option('--key <file>', 'TLS client key (PEM)')
    .option('--certs-dir <dir>', 'docker certs.d-style folder DIR/HOST[:PORT]/{*.crt,client.cert,client.key}, searched before CONFIG/certs.d, /etc/docker/certs.d and /etc/containers/certs.d (env DHE_CERTS_DIR)')
    .option(
      '--insecure-registry <host[:port]>',
      'skip TLS verification and allow plain HTTP for this registry, repeatable (env DHE_INSECURE_REGISTRIES)',
      collect,
    )
    .option('--platform <os/arch[/variant]>', "platform to pick from a multi-platform image (env DHE_PLATFORM, default the host's)")
    .option('--concurrency <n>', 'parallel blob transfers (env DHE_CONCURRENCY, default 4)')
    .option('--debug', 'HTTP trace with secrets redacted, and stack traces (env DHE_DEBUG=1)')
    .option('-q, --quiet', 'print only the essential result')
    .option('--no-color', 'no colour (also off when NO_COLOR is set, CI is set or the output is no TTY)')
    .configureHelp({ showGlobalOptions: true })
    .showSuggestionAfterError(true)
    .enablePositionalOptions(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => out.stdout.write(s),
      writeErr: (s) => out.stderr.write(s),
      outputError: (s, write) => write(usageError(s)),
    });

  const action =
    (load: Loader) =>
    async (...args: any[]) => {
      const cmd = args[args.length - 1] as Command;
      const flags = cmd.optsWithGlobals() as GlobalFlags;
      out.doctorSuggestion = doctorSuggestion(flags, args.slice(0, -2));
      const ctx = await buildContext(flags, env, out, controller.signal);
      const mod = await load();
      const code = await mod.run(ctx, ...args.slice(0, -1));
      exitCode = typeof code === 'number' ? code : ExitCode.OK;
    };

  const notYet = (name: string): Loader => async () => ({
    run: async () => {
      throw new DheError('NOT_IMPLEMENTED', `'${name}' is not implemented yet`);
    },
  });
  void notYet;

  program
    .command('login')
    .description('check credentials against a registry, then store them')
    .argument('[server]', 'registry host[:port] (default docker.io)')
    .option('-u, --username <user>', 'user name')
    .option('-p, --password <password>', 'password or token (insecure: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .addHelpText(
      'after',
      `
Examples:
  dhe-cli login dhe.yourdomain.com
  echo "$TOKEN" | dhe-cli login -u ci-bot --password-stdin dhe.yourdomain.com`,
    )
    .action(action(() => import('./commands/login.js')));

  program
    .command('logout')
    .description('forget the stored credentials for a registry')
    .argument('[server]', 'registry host[:port] (default docker.io)')
    .addHelpText('after', '\nExamples:\n  dhe-cli logout dhe.yourdomain.com')
    .action(action(() => import('./commands/logout.js')));

  program
    .command('tag')
    .description('give an image in the local store another name (any registry, any repository)')
    .argument('<source>', 'an image in the local store')
    .argument('<target>', 'the new name, [REGISTRYHOST/][USERNAME/]NAME[:TAG]')
    .addHelpText(
      'after',
      '\nExamples:\n  dhe-cli tag hello-world:latest dhe.yourdomain.com/yourusername/hello-mine:latest',
    )
    .action(action(() => import('./commands/tag.js')));

  program
    .command('push')
    .description('upload an image from the local store to its registry')
    .argument('<ref>', 'REGISTRYHOST/USERNAME/NAME[:TAG]')
    .option('--compression <gzip|none>', 'layers stored uncompressed (from docker save archives) are gzip-compressed once before the push (default gzip); none pushes them as stored', 'gzip')
    .addHelpText('after', '\nExamples:\n  dhe-cli push dhe.yourdomain.com/yourusername/hello-mine:latest\n  dhe-cli -q push localhost:5000/app:1.0')
    .action(action(() => import('./commands/push.js')));

  program
    .command('pull')
    .description('download an image into the local store')
    .argument('<ref>', '[REGISTRYHOST/][USERNAME/]NAME[:TAG|@DIGEST]')
    .option('--all-platforms', 'download every platform of a multi-platform image')
    .addHelpText(
      'after',
      '\nExamples:\n  dhe-cli pull dhe.yourdomain.com/yourusername/hello-mine\n  dhe-cli pull --platform linux/arm64 localhost:5000/app:1.0\n  dhe-cli pull localhost:5000/app@sha256:…',
    )
    .action(action(() => import('./commands/pull.js')));

  program
    .command('images')
    .description('list the images in the local store')
    .argument('[filter]', 'REPO[:TAG] to list only matching images')
    .option('--digests', 'show digests')
    .option('--no-trunc', "don't truncate output")
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .addHelpText('after', '\nExamples:\n  dhe-cli images\n  dhe-cli images -q dhe.yourdomain.com/yourusername/hello-mine\n  dhe-cli images --format json')
    .action(action(() => import('./commands/images.js')));

  program
    .command('rmi')
    .description('remove image names from the local store (blobs are freed by prune)')
    .argument('<refs...>', 'image names')
    .addHelpText('after', '\nExamples:\n  dhe-cli rmi localhost:5000/app:1.0')
    .action(action(() => import('./commands/rmi.js')));

  program
    .command('prune')
    .description('delete blobs that no image name needs')
    .addHelpText('after', '\nExamples:\n  dhe-cli prune')
    .action(action(() => import('./commands/prune.js')));

  program
    .command('inspect')
    .description('show manifest, config and digest of a local or remote image')
    .argument('<ref>', 'image reference')
    .option('--remote', 'read from the registry instead of the local store')
    .addOption(new Option('--format <format>', 'output format').choices(['json']).default('json'))
    .addHelpText('after', '\nExamples:\n  dhe-cli inspect localhost:5000/app:1.0\n  dhe-cli inspect --remote dhe.yourdomain.com/team/app:1.0')
    .action(action(() => import('./commands/inspect.js')));

  program
    .command('save')
    .description('write images to a tar archive that docker load understands, or an OCI layout')
    .argument('<refs...>', 'image names')
    .requiredOption('-o, --output <file>', 'archive to write ("-" for stdout)')
    .addOption(new Option('--format <format>', 'archive format').choices(['docker', 'oci']).default('docker'))
    .addHelpText('after', '\nExamples:\n  dhe-cli save localhost:5000/app:1.0 -o app.tar\n  dhe-cli save --format oci app:1.0 -o app-oci.tar')
    .action(action(() => import('./commands/save.js')));

  program
    .command('load')
    .description('read images from a docker save / skopeo / OCI archive (gzip or not) into the local store')
    .option('-i, --input <file>', 'archive to read (default stdin)')
    .option('--name <ref>', 'name for the image when the archive names none (e.g. an OCI layout without ref names)')
    .addHelpText('after', '\nExamples:\n  dhe-cli load -i app.tar\n  docker save app:1.0 | dhe-cli load')
    .action(action(() => import('./commands/load.js')));

  program
    .command('copy')
    .description('copy an image from one registry to another, streaming, without the local store')
    .argument('<src>', 'source reference')
    .argument('<dst>', 'destination reference')
    .option('--all-platforms', 'copy every platform of a multi-platform image')
    .addHelpText('after', '\nExamples:\n  dhe-cli copy docker.io/library/alpine:3.20 dhe.yourdomain.com/mirror/alpine:3.20')
    .action(action(() => import('./commands/copy.js')));

  program
    .command('tags')
    .description('list the tags of a remote repository')
    .argument('<repo>', 'REGISTRYHOST/NAME')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .addHelpText('after', '\nExamples:\n  dhe-cli tags dhe.yourdomain.com/yourusername/hello-mine')
    .action(action(() => import('./commands/tags.js')));

  program
    .command('catalog')
    .description('list the repositories of a registry')
    .argument('<registry>', 'REGISTRYHOST[:PORT]')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .addHelpText('after', '\nExamples:\n  dhe-cli catalog dhe.yourdomain.com')
    .action(action(() => import('./commands/catalog.js')));

  program
    .command('delete')
    .description('delete a manifest from the registry (a tag is resolved to its digest)')
    .argument('<ref>', 'REGISTRYHOST/NAME:TAG or @DIGEST')
    .option('--force', 'also when other tags point at the same manifest (they are deleted with it)')
    .addHelpText('after', '\nExamples:\n  dhe-cli delete dhe.yourdomain.com/team/app:old\n  dhe-cli delete --force dhe.yourdomain.com/team/app@sha256:…')
    .action(action(() => import('./commands/delete.js')));

  program
    .command('mutate')
    .description('write a new image with changed config (env, labels, entrypoint, ...) into the local store')
    .argument('<ref>', 'image in the local store')
    .requiredOption('-t, --tag <new>', 'name of the new image')
    .option('--env <K=V>', 'set an environment variable, repeatable', collect)
    .option('--label <K=V>', 'set a label, repeatable', collect)
    .option('--entrypoint <json|string>', 'entrypoint (JSON array or a string split on spaces)')
    .option('--cmd <json|string>', 'default command (JSON array or a string split on spaces)')
    .option('--workdir <dir>', 'working directory')
    .option('--user <user>', 'user')
    .option('--expose <port[/proto]>', 'exposed port, repeatable', collect)
    .addHelpText('after', '\nExamples:\n  dhe-cli mutate app:1.0 -t app:1.0-debug --env DEBUG=1 --label team=web')
    .action(action(() => import('./commands/mutate.js')));

  program
    .command('append')
    .description('add a layer from a tar file to an image in the local store')
    .argument('<ref>', 'image in the local store')
    .requiredOption('--layer <file>', 'layer tar (.tar or .tar.gz)')
    .requiredOption('-t, --tag <new>', 'name of the new image')
    .addHelpText('after', '\nExamples:\n  dhe-cli append app:1.0 --layer config.tar -t app:1.0-custom')
    .action(action(() => import('./commands/append.js')));

  program
    .command('doctor')
    .description('diagnose connectivity, TLS and authentication with a registry, and say how to fix what fails')
    .argument('<registry>', 'REGISTRYHOST[:PORT]')
    .option('--repo <name>', 'also check pull and push access to this repository')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText('after', '\nExamples:\n  dhe-cli doctor dhe.yourdomain.com\n  dhe-cli doctor dhe.yourdomain.com --repo yourusername/hello-mine')
    .action(action(() => import('./commands/doctor.js')));

  const store = program.command('store').description('maintain the local image store');
  store
    .command('verify')
    .description('check every blob against its digest and every name against its blobs')
    .option('--repair', 'drop broken blobs and names that point at missing blobs')
    .addHelpText('after', '\nExamples:\n  dhe-cli store verify\n  dhe-cli store verify --repair')
    .action(action(() => import('./commands/store-verify.js')));

  program
    .command('completion')
    .description('print a shell completion script')
    .argument('<shell>', 'bash or zsh')
    .addHelpText('after', '\nExamples:\n  dhe-cli completion bash > /etc/bash_completion.d/dhe-cli\n  source <(dhe-cli completion zsh)')
    .action(action(() => import('./commands/completion.js')));

  nameUsageErrors(program, '', (t) => out.stderr.write(t));
  try {
    unknownHelpTopic(program, argv.slice(2));
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof UnknownHelpTopic) {
      out.stderr.write(usageError(e.message));
      exitCode = ExitCode.USAGE;
    } else if (e instanceof CommanderError) {
      // help and version exit 0; everything else commander rejects is a usage error
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') {
        exitCode = ExitCode.OK;
      } else {
        exitCode = e.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
      }
    } else {
      exitCode = out.error(controller.signal.aborted ? (controller.signal.reason ?? e) : e);
    }
  } finally {
    if (signalled === 'SIGTERM' && exitCode === ExitCode.INTERRUPTED) exitCode = SIGTERM_EXIT;
    finished = true;
    // Handlers stay while a signal is being handled: its deadline (or a second signal) still ends the process.
    if (!signalled) {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
    }
  }
  return exitCode;
}
