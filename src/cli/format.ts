// `--format`: `table` and `json` as before, or a Go template as docker's formatter takes it (docker/cli
// cli/command/formatter): `\t` and `\n` written literally become tab and newline, surrounding spaces are trimmed, the
// template runs once per row with a newline after each, and a `table ` prefix prints a header row (the template run
// on the field names' headers) and aligns the columns as docker's tabwriter does (min width 10, padding 3).
// The template engine is src/text/go-template.ts; a command hands it plain rows, so any command can take templates.

import { GoTemplate } from '../text/go-template.js';
import { TEMPLATE_FUNCTIONS, goString, type TemplateFunction } from '../text/go-template-functions.js';

/** Whether `--format` is a template, not one of the command's named formats (empty is the default, as docker's). */
export function isTemplate(format: string | undefined, named: readonly string[] = ['table', 'json']): format is string {
  return format !== undefined && format.trim() !== '' && !named.includes(format);
}

function prepare(format: string): { table: boolean; source: string } {
  const table = format.startsWith('table');
  const body = (table ? format.slice('table'.length) : format).replace(/^ +| +$/g, '');
  return { table, source: body.replace(/\\t/g, '\t').replace(/\\n/g, '\n') };
}

/** In the header row docker's functions give back the header text they were handed. */
const HEADER_FUNCTIONS: Record<string, TemplateFunction> = Object.fromEntries(
  Object.keys(TEMPLATE_FUNCTIONS).map((k) => [k, (...args: unknown[]) => (args.length > 0 ? goString(args[0]) : '')]),
);

/** `format` itself, once its template is known to parse (a bad one is a usage error before any work is done). */
export function checkTemplate(format: string): string {
  new GoTemplate(prepare(format).source);
  return format;
}

/** The text `format` makes of `rows`; `headers` names each field's column header (for `table …`). */
export function formatRows(format: string, rows: readonly object[], headers: Record<string, string>): string {
  const { table, source } = prepare(format);
  const template = new GoTemplate(source);
  const records = new WeakSet<object>(rows);
  const body = rows.map((r) => `${template.execute(r, { records })}\n`).join('');
  if (!table) return body;
  const header = new GoTemplate(source, HEADER_FUNCTIONS);
  const headerRow = { ...headers };
  return alignColumns(`${header.execute(headerRow, { records: new WeakSet([headerRow]) })}\n${body}`);
}

/** The text `format` makes of one document (inspect, doctor, tags' listing), with a newline after it. */
export function formatDocument(format: string, doc: object): string {
  const { source } = prepare(format);
  return `${new GoTemplate(source).execute(doc, { records: new WeakSet([doc]) })}\n`;
}

/**
 * Go's tabwriter as docker sets it up (minwidth 10, tabwidth 1, padding 3, blanks): every tab-terminated cell is
 * padded to its column's width in its block of consecutive lines that have that column; a line's last cell is not.
 */
export function alignColumns(text: string): string {
  const lines = text.split('\n').map((l) => l.split('\t'));
  const widths = lines.map((cells) => cells.map(() => 0));
  const columns = Math.max(...lines.map((c) => c.length - 1));
  for (let col = 0; col < columns; col++) {
    let start = 0;
    while (start < lines.length) {
      if (lines[start]!.length - 1 <= col) {
        start++;
        continue;
      }
      let end = start;
      while (end < lines.length && lines[end]!.length - 1 > col) end++;
      const width = Math.max(10, ...lines.slice(start, end).map((c) => [...c[col]!].length + 3));
      for (let i = start; i < end; i++) widths[i]![col] = width;
      start = end;
    }
  }
  return lines
    .map((cells, i) => cells.map((c, col) => (col < cells.length - 1 ? c + ' '.repeat(Math.max(0, widths[i]![col]! - [...c].length)) : c)).join(''))
    .join('\n');
}
