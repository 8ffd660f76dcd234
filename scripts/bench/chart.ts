// Line charts as PNG: an SVG drawn here, rendered by sharp (librsvg). Enough for the bench's
// memory series and cost curves; no chart library needed.
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';

export interface Line {
  name: string;
  points: [number, number][];
  /** Drawn thicker: the line the chart is about. */
  bold?: boolean;
}

export interface Band {
  name: string;
  from: number;
  to: number;
}

export interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  lines: Line[];
  /** Shaded stretches of x with a label (the bench's phases). */
  bands?: Band[];
  /** Horizontal reference lines (a target, a budget). */
  marks?: { name: string; y: number }[];
  /** Draw dots at the points (for curves with few points). */
  dots?: boolean;
  width?: number;
  height?: number;
}

const COLORS = ['#1f4e99', '#d1495b', '#2e8b57', '#e69500', '#7b3fa0', '#00838f', '#8d6e63', '#546e7a'];
const BAND_COLORS = ['#f0f4fa', '#fbf3e6'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** 1, 2, 5 × 10^n steps giving about `count` ticks over [lo, hi]. */
function ticks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

export function chartSvg(c: Chart): string {
  const W = c.width ?? 900;
  const H = c.height ?? 420;
  const m = { left: 70, right: 20, top: 40, bottom: 78 };
  const all = c.lines.flatMap((l) => l.points);
  const xs = [...all.map((p) => p[0]), ...(c.bands ?? []).flatMap((b) => [b.from, b.to])];
  const ys = [...all.map((p) => p[1]), ...(c.marks ?? []).map((k) => k.y), 0];
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  const y1 = Math.max(...ys) * 1.08 || 1;
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const py = (y: number) => H - m.bottom - (y / y1) * (H - m.top - m.bottom);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(c.title)}</text>`);
  (c.bands ?? []).forEach((b, i) => {
    const [a, z] = [px(b.from), px(b.to)];
    out.push(`<rect x="${a}" y="${m.top}" width="${Math.max(0, z - a)}" height="${H - m.top - m.bottom}" fill="${BAND_COLORS[i % 2]}"/>`);
    out.push(`<text x="${(a + z) / 2}" y="${m.top + 14}" text-anchor="middle" font-size="11" fill="#555">${esc(b.name)}</text>`);
  });
  for (const t of ticks(0, y1, 6)) {
    out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${py(t)}" y2="${py(t)}" stroke="#e3e3e3"/>`);
    out.push(`<text x="${m.left - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`);
  }
  for (const t of ticks(x0, x1, 8)) out.push(`<text x="${px(t)}" y="${H - m.bottom + 16}" text-anchor="middle">${t}</text>`);
  out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${H - m.bottom}" y2="${H - m.bottom}" stroke="#333"/>`);
  out.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${H - m.bottom}" stroke="#333"/>`);
  out.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - m.bottom + 34}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  for (const k of c.marks ?? []) {
    out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${py(k.y)}" y2="${py(k.y)}" stroke="#d1495b" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${W - m.right - 4}" y="${py(k.y) - 4}" text-anchor="end" fill="#d1495b">${esc(k.name)}</text>`);
  }
  c.lines.forEach((l, i) => {
    const color = COLORS[i % COLORS.length];
    const d = l.points.map((p, j) => `${j ? 'L' : 'M'}${px(p[0]).toFixed(1)} ${py(p[1]).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="${l.bold ? 2.4 : 1.3}"/>`);
    if (c.dots) for (const p of l.points) out.push(`<circle cx="${px(p[0])}" cy="${py(p[1])}" r="3.5" fill="${color}"/>`);
  });
  // Legend under the axis label.
  let lx = m.left;
  c.lines.forEach((l, i) => {
    out.push(`<rect x="${lx}" y="${H - 24}" width="14" height="4" fill="${COLORS[i % COLORS.length]}"/>`);
    out.push(`<text x="${lx + 18}" y="${H - 18}">${esc(l.name)}</text>`);
    lx += 28 + l.name.length * 7;
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Writes the chart as PNG (and returns the file's size in bytes). */
export async function writeChart(file: string, c: Chart): Promise<number> {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const info = await sharp(Buffer.from(chartSvg(c))).png({ palette: true, compressionLevel: 9 }).toFile(file);
  return info.size;
}
