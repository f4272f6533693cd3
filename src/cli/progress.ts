// Renders transfer events the way docker prints them: plain lines when not interactive (CI, pipes), and live
// per-layer lines with bytes and speed on a TTY.

import { sanitizeLine } from '../text/sanitize.js';
import type { TransferEvent } from '../transfer/events.js';
import type { Output } from './output.js';

const STATUS_TEXT: Record<string, string> = {
  waiting: 'Waiting',
  downloading: 'Downloading',
  'download-complete': 'Download complete',
  'pull-complete': 'Pull complete',
  'already-exists': 'Already exists',
  pushing: 'Pushing',
  pushed: 'Pushed',
  'layer-exists': 'Layer already exists',
  mounted: 'Mounted from',
};

const FINAL = new Set(['pull-complete', 'already-exists', 'pushed', 'layer-exists', 'mounted']);

export function humanBytes(n: number): string {
  if (n < 1000) return `${n}B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)}${units[i]}`;
}

export interface ProgressRenderer {
  onEvent(e: TransferEvent): void;
  /** Stops live redrawing (call before printing the summary lines). */
  finish(): void;
}

/** `<id>: Resuming upload at <size>` (or download): an earlier run's transfer continues. */
function resumingLine(e: { id: string; direction: 'upload' | 'download'; offset: number }): string {
  return `${e.id}: Resuming ${e.direction} at ${humanBytes(e.offset)}`;
}

export function createRenderer(out: Output): ProgressRenderer {
  return out.interactive ? new LiveRenderer(out) : new PlainRenderer(out);
}

/** How often a plain (CI) log shows the progress of a layer still transferring: CI systems kill silent jobs. */
const HEARTBEAT_MS = 10_000;

/**
 * docker's non-TTY lines (final states), plus a line when a layer starts (`<id>: Downloading 1.07GB`) and at most
 * one progress line per layer every HEARTBEAT_MS (`<id>: 512MB/1.07GB`), nothing more.
 */
class PlainRenderer implements ProgressRenderer {
  private readonly lastShown = new Map<string, number>();
  constructor(
    private readonly out: Output,
    private readonly now: () => number = Date.now,
  ) {}
  onEvent(e: TransferEvent): void {
    switch (e.type) {
      case 'pull-start':
        this.out.info(`${e.tag}: Pulling from ${repoPath(e.repository)}`);
        break;
      case 'push-start':
        this.out.info(`The push refers to repository [${e.repository}]`);
        break;
      case 'layer':
        if (FINAL.has(e.status)) {
          this.lastShown.delete(e.id);
          this.out.info(`${e.id}: ${STATUS_TEXT[e.status]}${e.from ? ` ${e.from}` : ''}`);
        } else if (e.status === 'downloading' || e.status === 'pushing') {
          this.lastShown.set(e.id, this.now());
          this.out.info(`${e.id}: ${STATUS_TEXT[e.status]} ${humanBytes(e.size)}`);
        }
        break;
      case 'progress': {
        const last = this.lastShown.get(e.id);
        if (last === undefined || e.bytes >= e.total) break;
        const t = this.now();
        if (t - last < HEARTBEAT_MS) break;
        this.lastShown.set(e.id, t);
        this.out.info(`${e.id}: ${humanBytes(e.bytes)}/${humanBytes(e.total)}`);
        break;
      }
      case 'resuming':
        this.out.info(resumingLine(e));
        break;
      case 'manifest-pushed':
        this.out.info(`${e.tag}: digest: ${e.digest} size: ${e.size}`);
        break;
      case 'note':
        this.out.info(e.message);
        break;
      default:
        break;
    }
  }
  finish(): void {}
}

/** docker prints the repository path (without docker.io) after "Pulling from". */
function repoPath(name: string): string {
  return name.startsWith('docker.io/') ? name.slice('docker.io/'.length) : name.slice(name.indexOf('/') + 1);
}

class LiveRenderer implements ProgressRenderer {
  private readonly order: string[] = [];
  private readonly lines = new Map<string, string>();
  private readonly started = new Map<string, number>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;
  private dirty = false;

  constructor(private readonly out: Output) {
    this.timer = setInterval(() => this.redraw(), 100);
    this.timer.unref();
  }

  private set(id: string, text: string) {
    if (!this.lines.has(id)) this.order.push(id);
    // made safe (and one line) before it is cut to the width: an escaped character is several columns wide
    this.lines.set(id, sanitizeLine(text));
    this.dirty = true;
  }

  onEvent(e: TransferEvent): void {
    switch (e.type) {
      case 'pull-start':
        this.print(`${e.tag}: Pulling from ${repoPath(e.repository)}`);
        break;
      case 'push-start':
        this.print(`The push refers to repository [${e.repository}]`);
        break;
      case 'layer': {
        const text = STATUS_TEXT[e.status] ?? e.status;
        this.set(e.id, `${e.id}: ${text}${e.from ? ` ${e.from}` : ''}`);
        if (e.status === 'downloading' || e.status === 'pushing') this.started.set(e.id, Date.now());
        break;
      }
      case 'progress': {
        const t0 = this.started.get(e.id) ?? Date.now();
        const secs = Math.max(0.001, (Date.now() - t0) / 1000);
        const width = 30;
        const frac = e.total > 0 ? Math.min(1, e.bytes / e.total) : 0;
        const bar = '='.repeat(Math.floor(frac * width)) + '>' + ' '.repeat(width - Math.floor(frac * width));
        const verb = this.lines.get(e.id)?.includes('Pushing') ? 'Pushing' : 'Downloading';
        this.set(
          e.id,
          `${e.id}: ${verb} [${bar}] ${humanBytes(e.bytes)}/${humanBytes(e.total)} ${humanBytes(e.bytes / secs)}/s`,
        );
        break;
      }
      case 'resuming':
        this.print(resumingLine(e));
        break;
      case 'manifest-pushed':
        this.finish();
        this.out.info(`${e.tag}: digest: ${e.digest} size: ${e.size}`);
        break;
      case 'note':
        this.print(e.message);
        break;
      default:
        break;
    }
  }

  private print(line: string) {
    this.clear();
    this.out.info(line);
    this.dirty = true;
  }

  private clear() {
    if (this.drawn > 0) {
      this.out.eraseLines(this.drawn);
      this.drawn = 0;
    }
  }

  private redraw() {
    if (!this.dirty) return;
    this.dirty = false;
    this.clear();
    // Plain text cut to the terminal's width (no escape codes to cut through), so no line wraps and the
    // cursor-up count stays right; a terminal that reports 0 columns gets 80.
    const cols = Math.max(20, (this.out.stdout as NodeJS.WriteStream).columns || 80);
    for (const id of this.order) this.out.stdout.write((this.lines.get(id) ?? '').slice(0, cols - 1) + '\n');
    this.drawn = this.order.length;
  }

  finish(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.dirty = true;
    this.redraw();
    this.order.length = 0;
    this.drawn = 0;
  }
}
