// `dhe-cli help nosuch`: commander prints the top-level help and exits 0 for an unknown topic, so a typo looks
// like success. An unknown topic is a usage error (exit 2) with a suggestion, as `dhe-cli nosuch` is.

import type { Command } from 'commander';

export class UnknownHelpTopic extends Error {}

/** Throws UnknownHelpTopic when the arguments are `[global options] help TOPIC …` and TOPIC is no command. */
export function unknownHelpTopic(program: Command, args: readonly string[]): void {
  const positionals = positionalsOf(program, args);
  if (positionals[0] !== 'help' || positionals[1] === undefined) return;
  const topic = positionals[1];
  const names = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
  if (names.includes(topic)) return;
  const near = names.filter((n) => distance(n, topic) <= Math.max(1, Math.floor(n.length / 3)));
  const suggestion = near.length ? `\n(Did you mean ${near[0]}?)` : '';
  throw new UnknownHelpTopic(`error: unknown command '${topic}'${suggestion}`);
}

/** The arguments that are not options or option values (values of the program's options that take one). */
export function positionalsOf(program: Command, args: readonly string[]): string[] {
  const takesValue = new Set(program.options.filter((o) => o.required || o.optional).flatMap((o) => [o.long, o.short].filter(Boolean) as string[]));
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (a.startsWith('-')) {
      if (takesValue.has(a)) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

/** Levenshtein distance (short command names only). */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const here = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = here;
    }
  }
  return row[b.length]!;
}
