// The one table the bench prints: metric | value | target | vs floor | verdict.
export interface Row {
  metric: string;
  value: string;
  target?: string;
  vsFloor?: string;
  /** undefined: informational, no target. */
  pass?: boolean;
}

export function table(rows: Row[]): string {
  const head = ['metric', 'value', 'target', 'vs floor', 'ok'];
  const cells = rows.map((r) => [r.metric, r.value, r.target ?? '', r.vsFloor ?? '', r.pass === undefined ? '' : r.pass ? 'PASS' : 'FAIL']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((s, i) => s.padEnd(widths[i]!)).join(' | ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)].join('\n');
}

export const ms = (n: number) => `${Math.round(n)} ms`;
export const mib = (n: number) => `${Math.round(n)} MiB`;
export const ratio = (n: number) => `${n.toFixed(2)}×`;
