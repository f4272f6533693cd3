// The command line: commander wiring only. Each command declares its arguments, options and run in
// src/cli/commands/<name>.ts (src/cli/define.ts); main.ts registers them and loads each when it runs, so
// `dhe-cli --version` stays fast.

import { Command, CommanderError } from 'commander';
import { DheError, ExitCode } from '../errors.js';
import { removeTrackedSync } from '../fs/cleanup.js';
import { doctorSuggestion } from './doctor-suggestion.js';
import { positionalsOf, UnknownHelpTopic, unknownHelpTopic } from './help-topic.js';
import { Output } from './output.js';
import { packageVersion } from '../version.js';
import { buildContext } from './context.js';
import { addCommand, addGroup, readOptions, readValues, toOption, type AnyCommand, type GroupDef } from './define.js';
import { GLOBAL_OPTIONS } from './globals.js';

/** Exit code after SIGTERM (128 + 15, as shells report it); SIGINT keeps 130. */
const SIGTERM_EXIT = 143;
/** SIGTERM ends every command within a second: this long for a clean unwind, then a forced exit. */
const TERM_DEADLINE_MS = 500;

type Declaration = AnyCommand | GroupDef;

/**
 * Every command, in the order help lists them, each loaded only when it runs or its help is shown (its module
 * imports what it needs: the registry client, undici…), so `dhe-cli --version` and help stay fast.
 */
const COMMANDS: Record<string, () => Promise<{ default: Declaration }>> = {
  login: () => import('./commands/login.js'),
  logout: () => import('./commands/logout.js'),
  tag: () => import('./commands/tag.js'),
  push: () => import('./commands/push.js'),
  pull: () => import('./commands/pull.js'),
  images: () => import('./commands/images.js'),
  rmi: () => import('./commands/rmi.js'),
  prune: () => import('./commands/prune.js'),
  inspect: () => import('./commands/inspect.js'),
  save: () => import('./commands/save.js'),
  load: () => import('./commands/load.js'),
  copy: () => import('./commands/copy.js'),
  attach: () => import('./commands/attach.js'),
  referrers: () => import('./commands/referrers.js'),
  fetch: () => import('./commands/fetch.js'),
  sign: () => import('./commands/sign.js'),
  verify: () => import('./commands/verify.js'),
  key: () => import('./commands/key.js'),
  manifest: () => import('./commands/manifest.js'),
  tags: () => import('./commands/tags.js'),
  catalog: () => import('./commands/catalog.js'),
  delete: () => import('./commands/delete.js'),
  digest: () => import('./commands/digest.js'),
  mutate: () => import('./commands/mutate.js'),
  append: () => import('./commands/append.js'),
  doctor: () => import('./commands/doctor.js'),
  store: () => import('./commands/store.js'),
  completion: () => import('./commands/completion.js'),
};

/**
 * The commands this command line needs declared: the one it runs (or `help NAME` shows), none for the version, or
 * all of them when it names none or an unknown one (the top-level help lists them all; an unknown name gets a
 * suggestion from them).
 */
function commandsWanted(program: Command, args: readonly string[]): string[] {
  const words = positionalsOf(program, args);
  const name = words[0] === 'help' ? words[1] : words[0];
  if (name !== undefined && Object.hasOwn(COMMANDS, name)) return [name];
  // `dhe-cli --config DIR --version`: commander answers before any command is looked at
  if (words.length === 0 && args.some((a) => a === '--version' || a === '-v')) return [];
  return Object.keys(COMMANDS);
}

/** Commands whose own `--key` is the signing key (the global `--key`, the TLS client key, goes before their name). */
const SIGNING_KEY_COMMANDS = new Set(['sign', 'verify']);

/**
 * `dhe-cli sign REF --key FILE` as cosign has it: commander would give a `--key` anywhere to the global option (the
 * TLS client key), so after the name of sign or verify it becomes their `--signing-key`.
 */
function signingKeyArgs(program: Command, argv: readonly string[]): string[] {
  const name = positionalsOf(program, argv.slice(2))[0];
  if (name === undefined || !SIGNING_KEY_COMMANDS.has(name)) return [...argv];
  const at = argv.indexOf(name, 2);
  const rest = argv.slice(at + 1).map((a, i, all) => {
    if (all.slice(0, i).includes('--')) return a;
    if (a === '--key') return '--signing-key';
    return a.startsWith('--key=') ? `--signing-key=${a.slice(6)}` : a;
  });
  return [...argv.slice(0, at + 1), ...rest];
}

async function loadCommands(names: string[]): Promise<Declaration[]> {
  return Promise.all(names.map(async (n) => (await COMMANDS[n]!()).default));
}

export interface MainOptions {
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
}

/**
 * commander's "error: …\n(Did you mean …?)" in our shape: one Error: line and one Hint: line. `command` is the
 * command whose usage was wrong ("pull", "store verify"), so the hint names its help, not a placeholder.
 */
function usageError(text: string, command = ''): string {
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

/** What signal handling reads of a run: its exit code so far, whether it has finished, the signal received. */
interface RunState {
  exitCode: number;
  finished: boolean;
  signalled?: NodeJS.Signals;
}

/**
 * SIGINT and SIGTERM take the same path: abort, let the command clean up and print `Error: interrupted`.
 * SIGTERM (exit 143) also has a deadline: whatever is still running after TERM_DEADLINE_MS is cut short, its
 * temporary files removed synchronously (src/fs/cleanup.ts). A second signal of either kind exits at once, the
 * same way. Returns the function that removes the handlers once the run is over (unless a signal is being handled).
 */
function handleSignals(out: Output, controller: AbortController, state: RunState): () => void {
  const codeFor = (sig: NodeJS.Signals | undefined) => (sig === 'SIGTERM' ? SIGTERM_EXIT : ExitCode.INTERRUPTED);
  const exitNow = (code: number) => {
    removeTrackedSync();
    process.exit(code);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      if (!state.finished) out.error(controller.signal.reason);
      exitNow(state.finished ? state.exitCode : codeFor(sig));
    }
    state.signalled = sig;
    controller.abort(new DheError('INTERRUPTED', sig === 'SIGTERM' ? 'interrupted (SIGTERM)' : 'interrupted', { hint: 'run the command again to finish' }));
    if (sig === 'SIGTERM') {
      setTimeout(() => {
        if (!state.finished) out.error(controller.signal.reason);
        exitNow(state.finished ? state.exitCode : SIGTERM_EXIT);
      }, TERM_DEADLINE_MS).unref();
    }
  };
  const onSigint = () => onSignal('SIGINT');
  const onSigterm = () => onSignal('SIGTERM');
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  // `dhe-cli images -q | head -1`: a reader that goes away is not an error.
  const onPipeError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(state.exitCode);
  };
  process.stdout.on('error', onPipeError);
  process.stderr.on('error', onPipeError);
  return () => {
    // Handlers stay while a signal is being handled: its deadline (or a second signal) still ends the process.
    if (!state.signalled) {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigterm);
    }
  };
}

/** The program: its description, version, global options, and commander set to print through `out`. */
function createProgram(out: Output): Command {
  const program = new Command('dhe-cli');
  program
    .description(
      'docker login/tag/push/pull/images against a private registry (DHE, DTR, Harbor, distribution) without a Docker daemon',
    )
    .version(packageVersion(), '-v, --version', 'print the version');
  for (const [key, spec] of Object.entries(GLOBAL_OPTIONS)) program.addOption(toOption(key, spec));
  return program
    .configureHelp({ showGlobalOptions: true })
    .showSuggestionAfterError(true)
    .enablePositionalOptions(false)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => out.stdout.write(s),
      writeErr: (s) => out.stderr.write(s),
      outputError: (s, write) => write(usageError(s)),
    });
}

/** The exit code of what parsing or the command threw (help and version: 0; what commander rejects: usage). */
function exitCodeOfThrown(e: unknown, out: Output, signal: AbortSignal): number {
  if (e instanceof UnknownHelpTopic) {
    out.stderr.write(usageError(e.message));
    return ExitCode.USAGE;
  }
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return ExitCode.OK;
    return e.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
  }
  return out.error(signal.aborted ? (signal.reason ?? e) : e);
}

/** For bin/ and the single executable: V8 settings of the CLI process (src/runtime/cli-runtime.ts). */
export { tuneForCli } from '../runtime/cli-runtime.js';

export async function main(argv: string[], options: MainOptions = {}): Promise<number> {
  const out = new Output(options.stdout ?? process.stdout, options.stderr ?? process.stderr);
  const env = options.env ?? process.env;
  const controller = new AbortController();
  const state: RunState = { exitCode: ExitCode.OK, finished: false };
  const release = handleSignals(out, controller, state);
  const program = createProgram(out);
  const run = (def: AnyCommand) => async (cmd: Command) => {
    const flags = readOptions(GLOBAL_OPTIONS, cmd.optsWithGlobals());
    out.doctorSuggestion = doctorSuggestion(flags, cmd.processedArgs);
    const ctx = await buildContext(flags, env, out, controller.signal);
    const code = await def.run(ctx, readValues(def, cmd));
    state.exitCode = typeof code === 'number' ? code : ExitCode.OK;
  };
  try {
    for (const def of await loadCommands(commandsWanted(program, argv.slice(2)))) {
      if ('subCommands' in def) await addGroup(program, def, run);
      else addCommand(program, def, run(def));
    }
    nameUsageErrors(program, '', (t) => out.stderr.write(t));
    unknownHelpTopic(program, argv.slice(2));
    await program.parseAsync(signingKeyArgs(program, argv));
  } catch (e) {
    state.exitCode = exitCodeOfThrown(e, out, controller.signal);
  } finally {
    if (state.signalled === 'SIGTERM' && state.exitCode === ExitCode.INTERRUPTED) state.exitCode = SIGTERM_EXIT;
    state.finished = true;
    release();
  }
  return state.exitCode;
}
