/** A one-line progress bar for demos: redrawn in place on a terminal, a line every 10% otherwise. */
export class ProgressLine {
  private lastDecile = -1;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly width = 24,
  ) {}

  update(done: number, detail: string): void {
    const frac = fractionOf(done, this.total);
    const line = progressText(this.label, frac, detail, this.width);
    if (this.tty) {
      process.stderr.write(`\r\x1b[2K${line}`);
      return;
    }
    const decile = Math.floor(frac * 10);
    if (decile !== this.lastDecile) {
      this.lastDecile = decile;
      process.stderr.write(`${line}\n`);
    }
  }

  done(detail: string): void {
    this.update(this.total, detail);
    if (this.tty) process.stderr.write('\n');
  }
}

/** `label ████░░░░  40%  detail`: one progress bar as text. */
export function progressText(label: string, frac: number, detail: string, width = 24): string {
  const filled = Math.round(frac * width);
  return `${label} ${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${(100 * frac).toFixed(0).padStart(3)}%  ${detail}`;
}

function fractionOf(done: number, total: number): number {
  return total === 0 ? 1 : Math.max(0, Math.min(1, done / total));
}

/** One bar of a {@link ProgressBoard}. */
export interface ProgressEntry {
  update(done: number, detail: string): void;
  /** take the bar off the board and print `message` in its place, for good */
  finish(message: string): void;
}

/**
 * Several progress bars at once (one per job running in parallel), on stderr. On a terminal the
 * bars stay at the bottom, redrawn together in place, and {@link log} lines scroll above them;
 * otherwise each bar prints a line every 10% of its own total, and log lines as they come.
 *
 * @example
 * const board = new ProgressBoard();
 * const a = board.add('dni T=3', 20_000);
 * a.update(4_000, 'length 2');
 * board.log('bptt T=3 done');
 * a.finish('dni T=3 done: max length 3');
 */
export class ProgressBoard {
  private readonly live: { label: string; total: number; frac: number; detail: string; decile: number }[] = [];
  /** bars drawn below the log on a terminal (the cursor sits on the line after them) */
  private drawn = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 24,
  ) {}

  private get tty(): boolean {
    return Boolean(this.stream.isTTY);
  }

  add(label: string, total: number): ProgressEntry {
    const bar = { label, total, frac: 0, detail: '', decile: -1 };
    this.live.push(bar);
    this.redraw();
    return {
      update: (done, detail) => {
        bar.frac = fractionOf(done, total);
        bar.detail = detail;
        if (this.tty) return this.redraw();
        const decile = Math.floor(bar.frac * 10);
        if (decile === bar.decile) return;
        bar.decile = decile;
        this.stream.write(`${progressText(label, bar.frac, detail, this.width)}\n`);
      },
      finish: (message) => {
        const at = this.live.indexOf(bar);
        if (at < 0) return;
        this.live.splice(at, 1);
        this.log(message);
      },
    };
  }

  /** a line above the bars (a terminal keeps the bars below it) */
  log(line: string): void {
    if (!this.tty) {
      this.stream.write(`${line}\n`);
      return;
    }
    this.redraw(`${line}\n`);
  }

  private redraw(above = ''): void {
    if (!this.tty) return;
    const columns = Math.max(20, (this.stream.columns || 80) - 1);
    // a bar longer than the terminal would wrap, and the cursor would no longer find its first line
    const bars = this.live.map((b) => `${progressText(b.label, b.frac, b.detail, this.width).slice(0, columns)}\n`).join('');
    const up = this.drawn > 0 ? `\x1b[${this.drawn}F` : '\r';
    this.stream.write(`${up}\x1b[J${above}${bars}`);
    this.drawn = this.live.length;
  }
}

/** A plain text table with aligned columns. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, j) => Math.max(...cells.map((r) => r[j].length)));
  const line = (r: string[]) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
