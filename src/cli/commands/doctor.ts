// dhe-cli doctor REGISTRY [--repo NAME] [--format text|json] [--trust …]: runs the diagnosis (src/diagnose) and
// renders it, one line per check (✔ pass, ✖ fail, ! warning, - skipped), the fix under each failure; exit 0 / 3 /
// 4 / 6. With --trust, the registry's CA is shown and pinned first (doctor-trust.ts), then the checks run.

import type { Check, DoctorOptions } from '../../diagnose/index.js';
import { DheError } from '../../errors.js';
import { redactText } from '../../trace.js';
import { defineCommand } from '../define.js';
import { checkTrustFlags, trustStep } from '../doctor-trust.js';
import { spinner } from '../spinner.js';
import { userAgent } from '../../version.js';

const SECTION: Record<string, string> = {
  dns: 'Network',
  tcp: 'Network',
  proxy: 'Network',
  tls: 'TLS',
  http: 'Registry API',
  auth: 'Authentication',
  token: 'Authentication',
  realm: 'Authentication',
  clock: 'Authentication',
  access: 'Repository access',
};

/** `HOST[:PORT]`, or `HOST[:PORT]/REPO[:TAG]` as copied from a failing command: the path is the repository to check. */
function doctorTarget(text: string, repoFlag: string | undefined): { registry: string; repo?: string } {
  const bare = text.replace(/^https?:\/\//i, '').replace(/\/+$/, '');
  if (!bare || /\s/.test(bare)) throw new DheError('USAGE', 'doctor needs a registry: dhe-cli doctor HOST[:PORT]', { hint: "e.g. dhe-cli doctor dhe.yourdomain.com --repo team/app" });
  const slash = bare.indexOf('/');
  if (slash < 0) return { registry: bare, ...(repoFlag ? { repo: repoFlag } : {}) };
  const registry = bare.slice(0, slash);
  const fromPath = bare.slice(slash + 1).replace(/@.*$/, '').replace(/:[^/]*$/, '');
  if (repoFlag && repoFlag !== fromPath) {
    throw new DheError('USAGE', `two repositories given: ${fromPath} (in ${text}) and --repo ${repoFlag}`, { hint: `dhe-cli doctor ${registry} --repo NAME` });
  }
  return { registry, repo: fromPath };
}

export default defineCommand({
  meta: {
    name: 'doctor',
    description: 'diagnose connectivity, TLS and authentication with a registry, and say how to fix what fails',
    examples: ['dhe-cli doctor dhe.yourdomain.com', 'dhe-cli doctor dhe.yourdomain.com --repo yourusername/hello-mine'],
  },
  args: { registry: { required: true, description: 'REGISTRYHOST[:PORT]' } },
  options: {
    repo: { type: 'string', value: 'name', description: 'also check pull and push access to this repository' },
    format: { type: 'string', default: 'text', description: "text, json, or a Go template over the JSON report ('{{range .checks}}{{.id}} {{.status}}{{println}}{{end}}')" },
    trust: { type: 'boolean', description: "fetch the registry's CA (DTR /ca, Harbor, or its self-signed certificate), show its fingerprint and pin it after confirmation" },
    fingerprint: { type: 'string', value: 'sha256:hex', description: 'with --trust: pin the CA only if its SHA-256 fingerprint is this (no prompt)' },
    yes: { type: 'boolean', description: 'with --trust on a terminal: pin without asking' },
    replace: { type: 'boolean', description: 'with --trust: replace a different ca.crt already pinned for the registry' },
  },
  async run(ctx, { registry: target, ...opts }) {
    const { runDoctor } = await import('../../diagnose/index.js');
    const { settings, out } = ctx;
    const { checkTemplate, formatDocument, isTemplate } = await import('../format.js');
    const template = isTemplate(opts.format, ['text', 'json']) ? checkTemplate(opts.format) : undefined;
    const json = opts.format === 'json' || template !== undefined;
    const { registry, repo } = doctorTarget(target, opts.repo);
    const p = out.paint;
    let section = '';
    const spin = await spinner(out, { document: json });
    const render = (c: Check) => {
      spin.stop();
      // --quiet: only what needs attention (failures and warnings with their fixes), then the summary line
      if (settings.quiet && c.status !== 'fail' && c.status !== 'warn') return;
      const group = SECTION[c.id.split('.')[0] ?? ''] ?? 'Other';
      if (group !== section) {
        section = group;
        out.result(p.bold(group));
      }
      const mark = c.status === 'pass' ? p.green('✔') : c.status === 'fail' ? p.red('✖') : c.status === 'warn' ? p.yellow('!') : p.dim('-');
      const line = `  ${mark} ${c.title}: ${c.finding}`;
      out.result(redactText(c.status === 'skip' ? p.dim(line) : line));
      const showNotes = c.status === 'fail' || c.status === 'warn' || c.id.endsWith('tls.chain');
      if (showNotes) for (const n of c.notes ?? []) out.result(p.dim(`      ${redactText(n)}`));
      if (c.fix && (c.status === 'fail' || c.status === 'warn')) out.result(`    ${c.status === 'fail' ? p.red('Fix:') : p.yellow('Fix:')} ${redactText(c.fix)}`);
      spin.start('Checking…');
    };
    const dopts: DoctorOptions = {
      tls: settings.tls,
      proxy: settings.proxy,
      configDir: settings.configDir,
      dockerConfigDir: settings.dockerConfigDir,
      env: settings.env,
      repo,
      trace: ctx.trace,
      signal: ctx.signal,
      userAgent: userAgent(),
    };
    const trustFlags = { fingerprint: opts.fingerprint, yes: opts.yes, replace: opts.replace, json };
    checkTrustFlags(opts.trust, trustFlags);
    const trusted = opts.trust ? await trustStep(ctx, registry, dopts, trustFlags) : undefined;
    if (typeof trusted === 'number') return trusted;
    if (!json && !settings.quiet) out.result(`dhe-cli doctor ${registry}${repo ? ` --repo ${repo}` : ''}`);
    spin.start('Checking…');
    const report = await runDoctor(registry, { ...dopts, onCheck: json ? undefined : render }).finally(() => spin.stop());
    if (template !== undefined) {
      // the same fields --format json prints (the report holds no secrets), so not redacted a second time
      out.result(formatDocument(template, trusted ? { ...report, trust: trusted } : report).replace(/\n$/, ''));
      return report.exitCode;
    }
    if (json) {
      out.json(trusted ? { ...report, trust: trusted } : report);
      return report.exitCode;
    }
    const failed = report.checks.filter((c) => c.status === 'fail');
    const warned = report.checks.filter((c) => c.status === 'warn');
    const w = warned.length ? `${warned.length} warning${warned.length > 1 ? 's' : ''}` : '';
    if (!settings.quiet) out.result('');
    if (!failed.length) {
      out.result(p.green(`No problems found with ${report.host}${w ? ` (${w})` : ''}.`));
    } else {
      const first = failed[0]!;
      out.result(
        p.red(`${failed.length} problem${failed.length > 1 ? 's' : ''} found${w ? `, ${w}` : ''}. Start with: ${first.title} — ${first.fix ?? first.finding}`),
      );
    }
    return report.exitCode;
  },
});
