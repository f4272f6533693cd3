// Terminal safety of what dhe-cli prints: the sanitiser itself, JSON output, our own colours (which must work
// while no server's ESC passes, even one that looks exactly like ours), and live progress.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Output, type Writer } from '../../src/cli/output.js';
import { createRenderer } from '../../src/cli/progress.js';
import { defaultSettings } from '../../src/config.js';
import { DheError } from '../../src/errors.js';
import { escapeChar, escapeJsonText, isTerminalSafe, sanitize, sanitizeLine } from '../../src/text/sanitize.js';
import { ownStyle, toTerminal } from '../../src/text/terminal.js';

/** Anything a terminal acts on, apart from \n and \t. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

class Capture implements Writer {
  text = '';
  constructor(readonly isTTY = false, readonly columns = 80) {}
  write(s: string) {
    this.text += s;
    return true;
  }
}

describe('sanitize', () => {
  it('shows ESC, CR, C0, C1, DEL and bidi controls as visible escapes, and keeps the rest', () => {
    expect(sanitize('\x1b]0;pwned\x07')).toBe('\\x1b]0;pwned\\x07');
    expect(sanitize('\x1b[2J')).toBe('\\x1b[2J');
    expect(sanitize('v1\rLogin Succeeded')).toBe('v1\\rLogin Succeeded');
    expect(sanitize('a\u009b31mb\u0085c')).toBe('a\\x9b31mb\\x85c');
    expect(sanitize('del\u007f')).toBe('del\\x7f');
    expect(sanitize('\u202eevil\u2066\u2069\u200f')).toBe('\\u202eevil\\u2066\\u2069\\u200f');
    expect(sanitize('\x00\x08\x0b\x0c')).toBe('\\x00\\x08\\x0b\\x0c');
    expect(sanitize('tag-1.2_3 ünïcödé ✔ 日本')).toBe('tag-1.2_3 ünïcödé ✔ 日本');
    expect(sanitize('two\nlines\tand a tab')).toBe('two\nlines\tand a tab');
  });

  it('sanitizeLine also escapes \\n (one line stays one line); tabs can be escaped too', () => {
    expect(sanitizeLine('a\nLogin Succeeded')).toBe('a\\nLogin Succeeded');
    expect(sanitize('a\tb', { tab: false })).toBe('a\\tb');
    expect(escapeChar('\x1b')).toBe('\\x1b');
    expect(escapeChar('\u202e')).toBe('\\u202e');
  });

  it('any string comes out terminal-safe, sanitising twice changes nothing, and safe text is left alone (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        const once = sanitize(s);
        expect(UNSAFE.test(once)).toBe(false);
        expect(isTerminalSafe(once)).toBe(true);
        expect(sanitize(once)).toBe(once);
        if (!UNSAFE.test(s) && !/[\u061c\u200e\u200f\u2028\u2029]/.test(s)) expect(once).toBe(s);
      }),
      { numRuns: 500 },
    );
  });
});

describe('JSON output', () => {
  it('JSON.stringify leaves C1, DEL and bidi raw; escapeJsonText escapes them and the JSON parses back to the same strings', () => {
    const value = { tags: ['\x1b]0;pwned\x07', 'a\u009bb', 'del\u007f', '\u202eevil', 'v1\rLogin Succeeded'] };
    const raw = JSON.stringify(value, null, 2);
    expect(UNSAFE.test(raw)).toBe(true); // the premise: stringify alone is not enough
    const safe = escapeJsonText(raw);
    expect(UNSAFE.test(safe)).toBe(false);
    expect(JSON.parse(safe)).toEqual(value);
  });

  it('Output.json writes terminal-safe, lossless JSON', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { maxLength: 8 }), (tags) => {
        const out = new Capture();
        new Output(out, new Capture()).json({ tags });
        expect(UNSAFE.test(out.text)).toBe(false);
        expect(JSON.parse(out.text)).toEqual({ tags });
      }),
      { numRuns: 200 },
    );
  });
});

describe('the Output sink', () => {
  const hostile = '\x1b]0;pwned\x07denied\x1b[2J\r\nLogin Succeeded\r\u009b31m \u007f \u202eevil \x1b[31mred\x1b[0m';

  it('result, info, warn, error and hint lines, and anything written to out.stdout/out.stderr, are sanitised', async () => {
    const stdout = new Capture();
    const stderr = new Capture();
    const out = new Output(stdout, stderr);
    out.result(`tag ${hostile}`);
    out.info(`info ${hostile}`);
    out.warn(`warn ${hostile}`);
    out.error(new DheError('DENIED', `message ${hostile}`, { hint: `hint ${hostile}` }));
    out.stdout.write(`direct ${hostile}\n`);
    out.stderr.write(`direct ${hostile}\n`);
    for (const t of [stdout.text, stderr.text]) {
      expect(UNSAFE.test(t)).toBe(false);
      expect(t).not.toMatch(/^Login Succeeded$/m);
    }
    expect(stdout.text).toContain('tag \\x1b]0;pwned\\x07denied\\x1b[2J\\r');
    expect(stderr.text).toMatch(/^Error: message \\x1b\]0;pwned\\x07denied\\x1b\[2J Login Succeeded\\r\\x9b31m \\x7f \\u202eevil \\x1b\[31mred\\x1b\[0m$/m);
    expect(stderr.text).toMatch(/^Hint: hint \\x1b\]0;pwned/m);
    // warnings and status lines are one line each: a newline of the server's is shown, not obeyed
    expect(stderr.text).toContain('WARNING: warn \\x1b]0;pwned\\x07denied\\x1b[2J\\r\\nLogin Succeeded');
    expect(stdout.text).toContain('info \\x1b]0;pwned\\x07denied\\x1b[2J\\r\\nLogin Succeeded');
  });

  it('with colour on, our own SGR colours reach the terminal and no server ESC does, not even one identical to ours', async () => {
    const stdout = new Capture(true);
    const stderr = new Capture(true);
    const out = new Output(stdout, stderr);
    await out.configure({ ...defaultSettings({ HOME: '/nonexistent' }), color: true, interactive: false, quiet: false, debug: false });
    out.error(new DheError('DENIED', `message ${hostile}`, { hint: 'hint' }));
    out.warn(hostile);
    const p = out.paint;
    // doctor's shapes: painted words around registry text, painted registry text, painting nested in painting
    out.result(`  ${p.green('✔')} check: ${hostile}`);
    out.result(p.dim(`  ${p.red('✖')} ${hostile}`));
    out.result(p.red(hostile));
    const all = stdout.text + stderr.text;
    // ours: red "Error: ", yellow "WARNING: ", green ✔, dim, red ✖
    expect(stderr.text).toContain('\x1b[31mError: \x1b[39m');
    expect(stderr.text).toContain('\x1b[33mWARNING: \x1b[39m');
    expect(stdout.text).toContain('\x1b[32m✔\x1b[39m');
    expect(stdout.text).toContain('\x1b[2m');
    // remove exactly our sequences (SGR of chalk's codes, each immediately produced by paint): nothing unsafe is left
    const withoutOurs = all.replace(/\x1b\[(?:31|32|33|39|2|22)m/g, '');
    expect(UNSAFE.test(withoutOurs)).toBe(false);
    // the server's own "\x1b[31m" and "\x1b[0m" arrived escaped, never as colour
    expect(all).toContain('\\x1b[31mred\\x1b[0m');
    expect(all).not.toContain('\x1b[0m');
    expect(all).not.toMatch(/\x1b[^[]/);
  });

  it("a forged marker (our marker characters with a guessed nonce) is shown as text, not turned into colour", () => {
    const forged = '\ufff9000000000000000000000000000031\ufffbX';
    expect(toTerminal(forged)).toBe(forged);
    const painted = ownStyle((s) => `\x1b[31m${s}\x1b[39m`)(`${forged}\x1b[2J`);
    expect(toTerminal(painted)).toBe(`\x1b[31m${forged}\\x1b[2J\x1b[39m`);
    expect(toTerminal(painted, false)).toBe(`${forged}\\x1b[2J`);
  });

  it('live progress: layer lines from the registry are sanitised before they are cut to the width; only our cursor moves pass', async () => {
    const stdout = new Capture(true, 40);
    const out = new Output(stdout, new Capture(true));
    out.interactive = true;
    const r = createRenderer(out);
    r.onEvent({ type: 'pull-start', reference: 'x', tag: `v1\r${'\x1b[2J'}`, repository: 'reg/a\x1b]0;pwned\x07' });
    r.onEvent({ type: 'layer', id: 'abc\x1b[2Jdef\rLogin Succeeded', digest: 'sha256:x', size: 1, status: 'downloading' });
    r.onEvent({ type: 'layer', id: 'second\u009b', digest: 'sha256:y', size: 1, status: 'downloading' });
    await new Promise((res) => setTimeout(res, 250)); // drawn by the 100 ms redraw
    r.onEvent({ type: 'note', message: `note ${hostile}` }); // moves up over the drawn lines, prints, redraws
    r.finish();
    r.onEvent({ type: 'layer', id: 'third', digest: 'sha256:z', size: 1, status: 'downloading' });
    r.finish();
    const withoutOurs = stdout.text.replace(/\r\x1b\[\d+A\x1b\[J/g, ''); // our redraw: \r, cursor up, clear (src/text/terminal.ts)
    expect(stdout.text).toMatch(/\x1b\[\d+A\x1b\[J/); // we did redraw in place
    expect(UNSAFE.test(withoutOurs)).toBe(false);
    expect(withoutOurs).toContain('abc\\x1b[2Jdef\\rLogin Succeeded'.slice(0, 39));
    for (const line of withoutOurs.split('\n')) if (line.startsWith('abc') || line.startsWith('second')) expect(line.length).toBeLessThanOrEqual(39);
  });
});
