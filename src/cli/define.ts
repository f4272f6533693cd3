// A command is one object, as unjs/citty's defineCommand has it: its meta (name, description, examples), its
// positional arguments, its options, and its run, which receives the values typed from those declarations. Over
// commander: toCommander() turns a declaration into a commander Command, and readValues() reads what commander
// parsed back into the declared shape, so no handler types its options again by hand.

import { Command, Option } from 'commander';
import type { CommandContext } from './context.js';

export interface ArgSpec {
  description: string;
  /** `<name>` (required) instead of `[name]`. */
  required?: boolean;
  /** The rest of the words (`<name...>`): a string[]; only the last argument. */
  variadic?: boolean;
}

interface OptionBase {
  description: string;
  /** One letter: `-u` for `--username`. */
  short?: string;
}

/** `--KEY` (kebab-case of the key): true when given. `negated`: `--no-KEY`, true unless given. */
export interface BooleanOption extends OptionBase {
  type: 'boolean';
  negated?: boolean;
}

/** `--KEY <value>`: a string, one of `choices` when there are some. */
export interface StringOption extends OptionBase {
  type: 'string';
  /** The placeholder shown in help (`<file>`); default the flag's name. */
  value?: string;
  default?: string;
  required?: boolean;
  choices?: readonly string[];
}

/** `--KEY <value>`, repeatable: every value given, in order. */
export interface RepeatableOption extends OptionBase {
  type: 'repeatable';
  value?: string;
}

export type OptionSpec = BooleanOption | StringOption | RepeatableOption;
export type ArgSpecs = Record<string, ArgSpec>;
export type OptionSpecs = Record<string, OptionSpec>;

export interface CommandMeta {
  /** As typed after `dhe-cli` (a subcommand: its own word, `verify`). */
  name: string;
  description: string;
  /** Command lines shown under `Examples:` in the command's help. */
  examples?: readonly string[];
}

type ArgValue<A extends ArgSpec> = A extends { variadic: true } ? string[] : A extends { required: true } ? string : string | undefined;

type StringValue<O extends StringOption> = O extends { choices: readonly (infer C)[] } ? C : string;

/** The value an option has in `run`. */
export type OptionValue<O extends OptionSpec> = O extends BooleanOption
  ? boolean
  : O extends RepeatableOption
    ? string[]
    : O extends StringOption
      ? O extends { default: string } | { required: true }
        ? StringValue<O>
        : StringValue<O> | undefined
      : never;

export type OptionValues<O extends OptionSpecs> = { [K in keyof O]: OptionValue<O[K]> };
export type ArgValues<A extends ArgSpecs> = { [K in keyof A]: ArgValue<A[K]> };

/** What `run` receives: the positional arguments and the options by name, as declared. */
export type Values<A extends ArgSpecs, O extends OptionSpecs> = ArgValues<A> & OptionValues<O>;

export interface CommandDef<A extends ArgSpecs = ArgSpecs, O extends OptionSpecs = OptionSpecs> {
  meta: CommandMeta;
  args?: A;
  options?: O;
  run(ctx: CommandContext, values: Values<A, O>): Promise<number | void>;
}

/** A word that only groups subcommands (`store verify`), each loaded when it runs. */
export interface GroupDef {
  meta: CommandMeta;
  subCommands: Record<string, () => Promise<AnyCommand>>;
}

/** A declaration whose value types are erased: what the dispatch handles (it never looks at values by type). */
export interface AnyCommand {
  meta: CommandMeta;
  args?: ArgSpecs;
  options?: OptionSpecs;
  run(ctx: CommandContext, values: Record<string, unknown>): Promise<number | void>;
}

/** Declares a command; `run`'s second parameter is typed from `args` and `options`. */
export function defineCommand<const A extends ArgSpecs = {}, const O extends OptionSpecs = {}>(def: CommandDef<A, O>): AnyCommand {
  const clash = Object.keys(def.args ?? {}).find((k) => k in (def.options ?? {}));
  if (clash) throw new Error(`${def.meta.name}: "${clash}" is both an argument and an option`);
  return def as unknown as AnyCommand;
}

export function defineGroup(def: GroupDef): GroupDef {
  return def;
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** commander's flags string: `-o, --output <file>`, `--no-trunc`, `--env <K=V>`. */
function flagsOf(key: string, o: OptionSpec): string {
  const long = o.type === 'boolean' && o.negated ? `--no-${kebab(key)}` : `--${kebab(key)}`;
  const value = o.type === 'boolean' ? '' : ` <${o.value ?? kebab(key)}>`;
  return `${o.short ? `-${o.short}, ` : ''}${long}${value}`;
}

/** A commander Option for a declared option (`repeatable` collects every value). */
export function toOption(key: string, o: OptionSpec): Option {
  const opt = new Option(flagsOf(key, o), o.description);
  if (o.type === 'repeatable') opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
  if (o.type === 'string') {
    if (o.choices) opt.choices(o.choices);
    if (o.default !== undefined) opt.default(o.default);
    if (o.required) opt.makeOptionMandatory();
  }
  return opt;
}

function argumentText(name: string, a: ArgSpec): string {
  const inner = `${name}${a.variadic ? '...' : ''}`;
  return a.required ? `<${inner}>` : `[${inner}]`;
}

function examplesText(examples: readonly string[] | undefined): string | undefined {
  return examples?.length ? `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}` : undefined;
}

/**
 * Declares `def` as a subcommand of `parent` (created by `parent.command()`, so it inherits the parent's output,
 * help and exit settings); `action` runs when commander has parsed it. A group gets its subcommands' declarations.
 */
export function addCommand(parent: Command, def: AnyCommand, action: (cmd: Command) => Promise<void>): Command {
  const cmd = parent.command(def.meta.name).description(def.meta.description);
  for (const [name, a] of Object.entries(def.args ?? {})) cmd.argument(argumentText(name, a), a.description);
  for (const [key, o] of Object.entries(def.options ?? {})) cmd.addOption(toOption(key, o));
  const examples = examplesText(def.meta.examples);
  if (examples) cmd.addHelpText('after', examples);
  return cmd.action(async (...params: unknown[]) => action(params[params.length - 1] as Command));
}

/** Declares a group and its subcommands (all loaded: a group is only ever run through one of them). */
export async function addGroup(parent: Command, def: GroupDef, action: (def: AnyCommand) => (cmd: Command) => Promise<void>): Promise<Command> {
  const group = parent.command(def.meta.name).description(def.meta.description);
  for (const sub of await Promise.all(Object.values(def.subCommands).map((load) => load()))) addCommand(group, sub, action(sub));
  return group;
}

/** A parsed option's value in its declared shape (absent booleans false, `--no-X` true, repeatables []). */
function optionValue(o: OptionSpec, raw: unknown): unknown {
  if (o.type === 'boolean') return o.negated ? raw !== false : raw === true;
  if (o.type === 'repeatable') return Array.isArray(raw) ? raw.map(String) : [];
  return typeof raw === 'string' ? raw : undefined;
}

/** What commander parsed for `def`, by declared name: positional arguments in order, then the options. */
export function readValues(def: AnyCommand, cmd: Command): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  Object.keys(def.args ?? {}).forEach((name, i) => (values[name] = cmd.processedArgs[i]));
  const parsed = cmd.opts();
  for (const [key, o] of Object.entries(def.options ?? {})) values[key] = optionValue(o, parsed[key]);
  return values;
}

/** Declared options read from commander's values, typed (for the program's global options). */
export function readOptions<O extends OptionSpecs>(specs: O, parsed: Record<string, unknown>): OptionValues<O> {
  const values: Record<string, unknown> = {};
  for (const [key, o] of Object.entries(specs)) values[key] = optionValue(o, parsed[key]);
  return values as OptionValues<O>;
}
