// Go's text/template, the subset docker's `--format` scripts use: `{{.Field.Nested}}`, `{{.}}`, pipes, string and
// number literals, `{{if}}…{{else if}}…{{else}}…{{end}}`, `{{range}}…{{else}}…{{end}}`, `{{with}}`, `{{- -}}` trims,
// and docker's functions (json, join, split, lower, upper, title, pad, truncate) plus Go's builtins (index, len,
// print, printf, println, eq, ne, lt, le, gt, ge, and, or, not). Values print as Go's fmt %v prints them.
// Errors are DheError USAGE (exit 2): a template is part of the command line.

import { DheError } from '../errors.js';
import { goString, TEMPLATE_FUNCTIONS, truthy, type TemplateFunction } from './go-template-functions.js';

type Arg =
  | { k: 'field'; path: string[] }
  | { k: 'lit'; v: unknown }
  | { k: 'fn'; name: string }
  | { k: 'pipe'; pipe: Pipe };
type Pipe = Arg[][];
type Node =
  | { t: 'text'; s: string }
  | { t: 'action'; pipe: Pipe }
  | { t: 'if' | 'range' | 'with'; pipe: Pipe; body: Node[]; alt: Node[] };

const HINT = "a Go template as docker takes it, e.g. --format '{{.Repository}}:{{.Tag}}' (or table, json)";

function usage(message: string): DheError {
  return new DheError('USAGE', `template: ${message}`, { hint: HINT });
}

/** The template text split into text and actions, `{{-` / `-}}` trimming the whitespace beside them. */
function segments(src: string): Array<{ text: string } | { action: string }> {
  const out: Array<{ text: string } | { action: string }> = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = src.slice(i, open < 0 ? src.length : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (open < 0) {
      if (text) out.push({ text });
      break;
    }
    let body = src.slice(open + 2);
    if (/^- /.test(body)) text = text.replace(/\s+$/, '');
    const close = findClose(src, open + 2);
    if (close < 0) throw usage(`unclosed action "${src.slice(open, open + 20)}"`);
    body = src.slice(open + 2, close);
    trimNext = / -$/.test(body);
    if (text) out.push({ text });
    out.push({ action: body.replace(/^- /, '').replace(/ -$/, '').trim() });
    i = close + 2;
  }
  return out;
}

/** The index of the `}}` closing the action that starts at `from`, skipping quoted strings. */
function findClose(src: string, from: number): number {
  for (let i = from; i < src.length; i++) {
    const c = src[i];
    if (c === '"' || c === '`') {
      const end = c === '`' ? src.indexOf('`', i + 1) : closingQuote(src, i);
      if (end < 0) return -1;
      i = end;
    } else if (c === '}' && src[i + 1] === '}') return i;
  }
  return -1;
}

function closingQuote(s: string, start: number): number {
  for (let i = start + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return i;
  }
  return -1;
}

const TOKEN = /\s*("(?:[^"\\]|\\.)*"|`[^`]*`|\(|\)|\||-?\d+(?:\.\d+)?|\.[A-Za-z0-9_.]*|[A-Za-z_][A-Za-z0-9_]*|\S)/y;

function tokens(action: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (TOKEN.lastIndex < action.length && (m = TOKEN.exec(action))) out.push(m[1]!);
  return out;
}

/** A pipeline: commands separated by `|`, each a list of arguments; `( … )` nests a pipeline. */
function parsePipe(toks: string[], pos: { i: number }, functions: Record<string, TemplateFunction>): Pipe {
  const pipe: Pipe = [[]];
  while (pos.i < toks.length) {
    const tok = toks[pos.i++]!;
    if (tok === ')') return pipe;
    if (tok === '|') pipe.push([]);
    else if (tok === '(') pipe.at(-1)!.push({ k: 'pipe', pipe: parsePipe(toks, pos, functions) });
    else pipe.at(-1)!.push(parseArg(tok, functions));
  }
  if (pipe.some((c) => c.length === 0)) throw usage('missing value in a pipeline');
  return pipe;
}

function parseArg(tok: string, functions: Record<string, TemplateFunction>): Arg {
  if (tok === '.') return { k: 'field', path: [] };
  if (tok.startsWith('.')) return { k: 'field', path: tok.slice(1).split('.') };
  if (tok.startsWith('"')) return { k: 'lit', v: JSON.parse(tok) as string };
  if (tok.startsWith('`')) return { k: 'lit', v: tok.slice(1, -1) };
  if (/^-?\d/.test(tok)) return { k: 'lit', v: Number(tok) };
  if (tok === 'true' || tok === 'false') return { k: 'lit', v: tok === 'true' };
  if (tok === 'nil') return { k: 'lit', v: null };
  if (Object.hasOwn(functions, tok)) return { k: 'fn', name: tok };
  throw usage(`function "${tok}" not defined`);
}

function parseNodes(segs: ReturnType<typeof segments>, pos: { i: number }, functions: Record<string, TemplateFunction>): { nodes: Node[]; end: string } {
  const nodes: Node[] = [];
  while (pos.i < segs.length) {
    const seg = segs[pos.i++]!;
    if ('text' in seg) {
      nodes.push({ t: 'text', s: seg.text });
      continue;
    }
    const toks = tokens(seg.action);
    const word = toks[0];
    if (word === undefined || word.startsWith('/*')) continue;
    if (word === 'end' || word === 'else') return { nodes, end: seg.action };
    if (word === 'if' || word === 'range' || word === 'with') {
      nodes.push(parseBlock(word, toks.slice(1), segs, pos, functions));
      continue;
    }
    nodes.push({ t: 'action', pipe: parsePipe(toks, { i: 0 }, functions) });
  }
  return { nodes, end: '' };
}

function parseBlock(kind: 'if' | 'range' | 'with', toks: string[], segs: ReturnType<typeof segments>, pos: { i: number }, functions: Record<string, TemplateFunction>): Node {
  if (toks.length === 0) throw usage(`missing value for ${kind}`);
  const pipe = parsePipe(toks, { i: 0 }, functions);
  const body = parseNodes(segs, pos, functions);
  let alt: Node[] = [];
  if (body.end === '') throw usage(`unexpected EOF: {{${kind}}} has no {{end}}`);
  if (body.end.startsWith('else')) {
    const rest = tokens(body.end).slice(1);
    if (rest[0] === 'if' || rest[0] === 'with') {
      alt = [parseBlock(rest[0], rest.slice(1), segs, pos, functions)];
    } else {
      const tail = parseNodes(segs, pos, functions);
      if (!tail.end.startsWith('end')) throw usage(`unexpected EOF: {{${kind}}} has no {{end}}`);
      alt = tail.nodes;
    }
  }
  return { t: kind, pipe, body: body.nodes, alt };
}

export interface ExecuteOptions {
  /** Objects whose missing fields are an error naming the valid ones (a row, the command's document). */
  records?: WeakSet<object>;
}

export class GoTemplate {
  private readonly nodes: Node[];

  constructor(
    readonly source: string,
    private readonly functions: Record<string, TemplateFunction> = TEMPLATE_FUNCTIONS,
  ) {
    const pos = { i: 0 };
    const parsed = parseNodes(segments(source), pos, functions);
    if (parsed.end !== '') throw usage(`unexpected {{${parsed.end}}}`);
    this.nodes = parsed.nodes;
  }

  /** The template's output for `data`; a field `data` does not have is a usage error when `data` is a record. */
  execute(data: unknown, opts: ExecuteOptions = {}): string {
    return this.run(this.nodes, data, opts);
  }

  private run(nodes: Node[], dot: unknown, opts: ExecuteOptions): string {
    let out = '';
    for (const n of nodes) {
      if (n.t === 'text') out += n.s;
      else if (n.t === 'action') out += goString(this.pipe(n.pipe, dot, opts));
      else out += this.block(n, dot, opts);
    }
    return out;
  }

  private block(n: Extract<Node, { body: Node[] }>, dot: unknown, opts: ExecuteOptions): string {
    const v = this.pipe(n.pipe, dot, opts);
    if (n.t === 'if') return this.run(truthy(v) ? n.body : n.alt, dot, opts);
    if (n.t === 'with') return truthy(v) ? this.run(n.body, v, opts) : this.run(n.alt, dot, opts);
    const items = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.keys(v).sort().map((k) => (v as Record<string, unknown>)[k]) : [];
    if (v !== undefined && v !== null && typeof v !== 'object') throw usage(`range can't iterate over ${goString(v)}`);
    if (items.length === 0) return this.run(n.alt, dot, opts);
    return items.map((item) => this.run(n.body, item, opts)).join('');
  }

  private pipe(pipe: Pipe, dot: unknown, opts: ExecuteOptions): unknown {
    let value: unknown;
    pipe.forEach((cmd, i) => {
      value = this.command(cmd, dot, opts, i > 0 ? { value } : undefined);
    });
    return value;
  }

  private command(cmd: Arg[], dot: unknown, opts: ExecuteOptions, piped?: { value: unknown }): unknown {
    const [head, ...rest] = cmd;
    if (head!.k === 'fn') {
      const args = rest.map((a) => this.arg(a, dot, opts));
      if (piped) args.push(piped.value);
      return this.functions[head!.name]!(...args);
    }
    if (rest.length > 0 || piped) throw usage(`can't give an argument to a non-function ${describe(head!)}`);
    return this.arg(head!, dot, opts);
  }

  private arg(a: Arg, dot: unknown, opts: ExecuteOptions): unknown {
    if (a.k === 'lit') return a.v;
    if (a.k === 'pipe') return this.pipe(a.pipe, dot, opts);
    if (a.k === 'fn') return this.functions[a.name]!();
    let v = dot;
    for (const name of a.path) v = field(v, name, opts.records);
    return v;
  }
}

function describe(a: Arg): string {
  return a.k === 'field' ? `.${a.path.join('.')}` : a.k === 'lit' ? goString(a.v) : '(…)';
}

function field(v: unknown, name: string, records?: WeakSet<object>): unknown {
  if (v === null || v === undefined) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw usage(`can't evaluate field ${name} in ${goString(v)}`);
  if (Object.hasOwn(v, name)) return (v as Record<string, unknown>)[name];
  if (records?.has(v)) {
    const valid = Object.keys(v).map((k) => `.${k}`).join(' ');
    throw usage(`unknown field .${name}; valid fields: ${valid}`);
  }
  return undefined;
}
