/**
 * A one-line progress bar on stderr, redrawn in place at most ten times a second. Messages printed
 * through `log` clear the bar first so that errors and the bar never interleave on one line. When
 * stderr is not a terminal (a CI log, a file) the bar stays silent unless forced, since carriage
 * returns would fill the log with partial lines.
 */

export class Progress {
  private done = 0;
  private failed = 0;
  private readonly started = Date.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private total: number | undefined,
    private readonly enabled: boolean,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  setTotal(total: number): void {
    this.total = total;
  }

  /** Counts finished units (ok or failed) and redraws when due. */
  tick(ok: number, failed = 0): void {
    this.done += ok + failed;
    this.failed += failed;
    this.draw(false);
  }

  /** Prints a full line above the bar. */
  log(line: string): void {
    this.clear();
    this.out.write(line.endsWith('\n') ? line : `${line}\n`);
    this.draw(true);
  }

  /** Final redraw, then leaves the bar on its own line. */
  finish(): void {
    if (!this.enabled) return;
    this.draw(true);
    if (this.drawn) this.out.write('\n');
    this.drawn = false;
  }

  private clear(): void {
    if (this.enabled && this.drawn) this.out.write('\r\x1b[2K');
  }

  private draw(force: boolean): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.clear();
    this.out.write(this.render(now));
    this.drawn = true;
  }

  render(now = Date.now()): string {
    const secs = Math.max((now - this.started) / 1000, 1e-3);
    const rate = this.done / secs;
    const failed = this.failed > 0 ? ` ${this.failed} failed` : '';
    if (this.total === undefined || this.total === 0) {
      return `${this.done} done${failed} ${rate.toFixed(1)}/s ${secs.toFixed(0)}s`;
    }
    const frac = Math.min(1, this.done / this.total);
    const width = 30;
    const full = Math.round(frac * width);
    const eta = rate > 0 ? Math.max(0, (this.total - this.done) / rate) : NaN;
    const etaText = Number.isFinite(eta) ? ` eta ${formatSeconds(eta)}` : '';
    return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${this.done}/${this.total} ${(frac * 100).toFixed(0)}%${failed} ${rate.toFixed(1)}/s${etaText}`;
  }
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
