// The functions docker's templates have (docker/cli templates.basicFunctions) and Go's text/template builtins, and
// Go's fmt %v printing of values, over the JSON-shaped values our commands hand to templates.

import { DheError } from '../errors.js';

export type TemplateFunction = (...args: unknown[]) => unknown;

function fail(message: string): DheError {
  return new DheError('USAGE', `template: ${message}`, { hint: "see docker's --format documentation: https://docs.docker.com/config/formatting/" });
}

/** Go's %v: strings as they are, lists `[a b]`, maps `map[k:v]` with sorted keys, a missing value `<no value>`. */
export function goString(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : goFloat(v);
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `map[${Object.keys(o).sort().map((k) => `${k}:${goString(o[k])}`).join(' ')}]`;
  }
  return String(v);
}

/** %v of a float64: the shortest form, with Go's exponent for very large and small values. */
function goFloat(v: number): string {
  const abs = Math.abs(v);
  if (abs !== 0 && (abs < 1e-4 || abs >= 1e21)) return v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
  return String(v);
}

/** json: as Go's encoder with HTML escaping off (docker's), no trailing newline. */
function json(v: unknown): string {
  return JSON.stringify(v ?? null);
}

function str(v: unknown, fn: string): string {
  if (typeof v !== 'string') throw fail(`${fn}: wrong type for value; expected string; got ${goString(v)}`);
  return v;
}

function index(v: unknown, ...keys: unknown[]): unknown {
  let cur = v;
  for (const k of keys) {
    if (cur === undefined || cur === null) throw fail('index of untyped nil');
    if (Array.isArray(cur)) {
      if (typeof k !== 'number' || k < 0 || k >= cur.length) throw fail(`index out of range: ${goString(k)}`);
      cur = cur[k];
    } else if (typeof cur === 'object') {
      cur = Object.hasOwn(cur, String(k)) ? (cur as Record<string, unknown>)[String(k)] : undefined;
    } else {
      throw fail(`can't index item of type ${typeof cur}`);
    }
  }
  return cur;
}

function len(v: unknown): number {
  if (typeof v === 'string' || Array.isArray(v)) return v.length;
  if (v && typeof v === 'object') return Object.keys(v).length;
  throw fail(`len of ${goString(v)}`);
}

/** Go's fmt.Sprint: spaces between operands when neither is a string. */
function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += goString(a);
  });
  return out;
}

function printf(format: unknown, ...args: unknown[]): string {
  let i = 0;
  return str(format, 'printf').replace(/%([-+# 0]*\d*(?:\.\d+)?)([vsdqtfx%])/g, (_m, flags: string, verb: string) => {
    if (verb === '%') return '%';
    const a = args[i++];
    const text = verb === 'q' ? JSON.stringify(goString(a)) : verb === 'f' && typeof a === 'number' ? a.toFixed(Number(/\.(\d+)/.exec(flags)?.[1] ?? 6)) : verb === 'x' && typeof a === 'number' ? a.toString(16) : goString(a);
    const width = Number(/^[-+# 0]*(\d+)/.exec(flags)?.[1] ?? 0);
    return flags.includes('-') ? text.padEnd(width) : text.padStart(width);
  });
}

function compare(fn: string, test: (a: number | string, b: number | string) => boolean): TemplateFunction {
  return (a, b) => {
    if ((typeof a !== 'number' && typeof a !== 'string') || typeof a !== typeof b) throw fail(`${fn}: incompatible types for comparison`);
    return test(a, b as number | string);
  };
}

export const TEMPLATE_FUNCTIONS: Record<string, TemplateFunction> = {
  json,
  join: (list, sep) => (Array.isArray(list) ? list.map(goString).join(str(sep, 'join')) : str(list, 'join')),
  split: (s, sep) => str(s, 'split').split(str(sep, 'split')),
  lower: (s) => str(s, 'lower').toLowerCase(),
  upper: (s) => str(s, 'upper').toUpperCase(),
  title: (s) => str(s, 'title').replace(/(^|[^\p{L}\p{N}'])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()),
  pad: (s, before, after) => ' '.repeat(Number(before)) + str(s, 'pad') + ' '.repeat(Number(after)),
  truncate: (s, n) => [...str(s, 'truncate')].slice(0, Number(n)).join(''),
  index: (v, ...keys) => index(v, ...keys),
  len: (v) => len(v),
  print: (...args) => sprint(args),
  println: (...args) => `${args.map(goString).join(' ')}\n`,
  printf: (format, ...args) => printf(format, ...args),
  not: (v) => !truthy(v),
  and: (...args) => args.find((a) => !truthy(a)) ?? args.at(-1),
  or: (...args) => args.find((a) => truthy(a)) ?? args.at(-1),
  eq: (a, ...bs) => bs.some((b) => a === b),
  ne: (a, b) => a !== b,
  lt: compare('lt', (a, b) => a < b),
  le: compare('le', (a, b) => a <= b),
  gt: compare('gt', (a, b) => a > b),
  ge: compare('ge', (a, b) => a >= b),
};

/** Go's truth: false, 0, nil, and empty strings, lists and maps are false. */
export function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}
