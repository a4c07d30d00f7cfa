/** A one-line progress bar for demos: redrawn in place on a terminal, a line every 10% otherwise. */
export class ProgressLine {
  private lastDecile = -1;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(private readonly label: string, private readonly total: number, private readonly width = 24) {}

  update(done: number, detail: string): void {
    const frac = this.total === 0 ? 1 : Math.min(1, done / this.total);
    const filled = Math.round(frac * this.width);
    const line = `${this.label} ${'█'.repeat(filled)}${'░'.repeat(this.width - filled)} ${(100 * frac).toFixed(0).padStart(3)}%  ${detail}`;
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

/** A plain text table with aligned columns. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, j) => Math.max(...cells.map((r) => r[j].length)));
  const line = (r: string[]) => r.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ');
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}
