// Looking into PDFs with Debian's poppler-utils (pdfinfo, pdftoppm, pdftotext): what a
// person opening the file would see.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';

function withFile<T>(pdf: Buffer, fn: (file: string, dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'panelshot-pdf-test-'));
  try {
    const file = path.join(dir, 'in.pdf');
    fs.writeFileSync(file, pdf);
    return fn(file, dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface PdfInfo {
  pages: number;
  /** Page size in points (1/72 in), of the first page. */
  width: number;
  height: number;
}

export function pdfInfo(pdf: Buffer): PdfInfo {
  const out = withFile(pdf, (f) => execFileSync('pdfinfo', [f], { encoding: 'utf8' }));
  const size = /Page size:\s+([\d.]+) x ([\d.]+) pts/.exec(out);
  return { pages: Number(/Pages:\s+(\d+)/.exec(out)?.[1] ?? 0), width: Number(size?.[1] ?? 0), height: Number(size?.[2] ?? 0) };
}

/** Text per page (form feeds split pages in pdftotext's output). */
export function pdfText(pdf: Buffer): string[] {
  const out = withFile(pdf, (f) => execFileSync('pdftotext', ['-layout', f, '-'], { encoding: 'utf8' }));
  return out.split('\f').slice(0, -1);
}

/** Every page as PNG, `width` pixels wide. */
export function pdfPages(pdf: Buffer, width: number): Buffer[] {
  return withFile(pdf, (f, dir) => {
    execFileSync('pdftoppm', ['-png', '-scale-to-x', String(width), '-scale-to-y', '-1', f, path.join(dir, 'p')]);
    return fs
      .readdirSync(dir)
      .filter((n) => n.startsWith('p') && n.endsWith('.png'))
      .sort((a, b) => Number(/(\d+)\.png$/.exec(a)![1]) - Number(/(\d+)\.png$/.exec(b)![1]))
      .map((n) => fs.readFileSync(path.join(dir, n)));
  });
}

/**
 * Share of pixels (0..1) whose colour differs by at most `tolerance` per channel between
 * two pictures, over the area both cover. A printed page is rasterised by another engine
 * (poppler) than the screenshot (Skia), so edges differ by a little; a different picture
 * differs by a lot.
 */
export async function similarShare(a: Buffer, b: Buffer, tolerance = 40): Promise<number> {
  const [ma, mb] = await Promise.all([sharp(a).metadata(), sharp(b).metadata()]);
  const w = Math.min(ma.width!, mb.width!);
  const h = Math.min(ma.height!, mb.height!);
  const raw = (img: Buffer) => sharp(img).extract({ left: 0, top: 0, width: w, height: h }).removeAlpha().raw().toBuffer();
  const [ra, rb] = await Promise.all([raw(a), raw(b)]);
  let close = 0;
  for (let i = 0; i < ra.length; i += 3) {
    if (Math.abs(ra[i]! - rb[i]!) <= tolerance && Math.abs(ra[i + 1]! - rb[i + 1]!) <= tolerance && Math.abs(ra[i + 2]! - rb[i + 2]!) <= tolerance) close++;
  }
  return close / (ra.length / 3);
}

/** The box of pixels that differ from the page's corner (the paper around a picture). */
export async function pictureBox(png: Buffer): Promise<{ left: number; top: number; width: number; height: number }> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const corner = [data[0]!, data[1]!, data[2]!];
  let left = info.width, right = -1, top = info.height, bottom = -1;
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      const i = (y * info.width + x) * 3;
      if (Math.abs(data[i]! - corner[0]!) > 3 || Math.abs(data[i + 1]! - corner[1]!) > 3 || Math.abs(data[i + 2]! - corner[2]!) > 3) {
        left = Math.min(left, x);
        right = Math.max(right, x);
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
      }
    }
  }
  return { left, top, width: right - left + 1, height: bottom - top + 1 };
}
