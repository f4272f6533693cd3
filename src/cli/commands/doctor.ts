// dhe-cli doctor REGISTRY [--repo NAME] [--format text|json]: runs the diagnosis (src/diagnose) and renders it,
// one line per check (✔ pass, ✖ fail, ! warning, - skipped), the fix under each failure; exit 0 / 3 / 4 / 6.

import { runDoctor, type Check } from '../../diagnose/index.js';
import { DheError } from '../../errors.js';
import { redactText } from '../../trace.js';
import type { CommandContext } from '../context.js';
import { userAgent } from '../session.js';

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

export async function run(ctx: CommandContext, registry: string, opts: { repo?: string; format?: string }): Promise<number> {
  const { settings, out } = ctx;
  const json = opts.format === 'json';
  if (!registry || /\s/.test(registry)) throw new DheError('USAGE', 'doctor needs a registry: dhe-cli doctor HOST[:PORT]');
  const p = out.paint;
  let section = '';
  const render = (c: Check) => {
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
  };
  if (!json) out.result(`dhe-cli doctor ${registry}${opts.repo ? ` --repo ${opts.repo}` : ''}`);
  const report = await runDoctor(registry, {
    tls: settings.tls,
    proxy: settings.proxy,
    configDir: settings.configDir,
    dockerConfigDir: settings.dockerConfigDir,
    env: settings.env,
    repo: opts.repo,
    trace: ctx.trace,
    signal: ctx.signal,
    userAgent: userAgent(),
    onCheck: json ? undefined : render,
  });
  if (json) {
    out.json(report);
    return report.exitCode;
  }
  const failed = report.checks.filter((c) => c.status === 'fail');
  const warned = report.checks.filter((c) => c.status === 'warn');
  const w = warned.length ? `${warned.length} warning${warned.length > 1 ? 's' : ''}` : '';
  out.result('');
  if (!failed.length) {
    out.result(p.green(`No problems found with ${report.host}${w ? ` (${w})` : ''}.`));
  } else {
    const first = failed[0]!;
    out.result(
      p.red(`${failed.length} problem${failed.length > 1 ? 's' : ''} found${w ? `, ${w}` : ''}. Start with: ${first.title} — ${first.fix ?? first.finding}`),
    );
  }
  return report.exitCode;
}
