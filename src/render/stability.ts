// Deciding whether two screenshots show the same picture. Equal PNG bytes mean equal
// pixels (Chrome's encoder is deterministic), which settles most comparisons without
// decoding; only when the bytes differ and a tolerance is allowed do we decode with sharp
// and count the pixels that differ.
import sharp from 'sharp';
import { captureSizeMismatch } from '../errors';

export interface Frame {
  png: Buffer;
  at: number;
}

/** Share of pixels that differ (0..1); 1 when the sizes differ. */
export async function pixelDifference(a: Buffer, b: Buffer): Promise<number> {
  const [ra, rb] = await Promise.all([
    sharp(a).ensureAlpha().raw().toBuffer({ resolveWithObject: true }),
    sharp(b).ensureAlpha().raw().toBuffer({ resolveWithObject: true }),
  ]);
  if (ra.info.width !== rb.info.width || ra.info.height !== rb.info.height) return 1;
  const pa = pixels(ra.data);
  const pb = pixels(rb.data);
  let differing = 0;
  for (let i = 0; i < pa.length; i++) if (pa[i] !== pb[i]) differing++;
  return differing / pa.length;
}

export async function sameFrame(a: Buffer, b: Buffer, tolerance: number): Promise<boolean> {
  if (a.equals(b)) return true;
  if (tolerance <= 0) return false;
  return (await pixelDifference(a, b)) <= tolerance;
}

export async function imageSize(png: Buffer): Promise<{ width: number; height: number }> {
  const m = await sharp(png).metadata();
  return { width: m.width ?? 0, height: m.height ?? 0 };
}

/**
 * Makes the picture exactly width×height device pixels. Chrome may round a fractional
 * device size by one pixel: that edge row or column is cropped, or repeated, never
 * resampled. Anything further off is no rounding: the capture is not the picture asked for
 * (a 1× frame for a 2× request once was, blown up here without a word), and an error.
 */
export async function exactSize(png: Buffer, width: number, height: number): Promise<Buffer> {
  const size = await imageSize(png);
  if (size.width === width && size.height === height) return png;
  if (Math.abs(size.width - width) > 1 || Math.abs(size.height - height) > 1) {
    throw captureSizeMismatch(`Chrome captured ${size.width}×${size.height} device pixels where ${width}×${height} were asked for`);
  }
  let img = sharp(png);
  if (size.width > width || size.height > height) img = img.extract({ left: 0, top: 0, width: Math.min(width, size.width), height: Math.min(height, size.height) });
  const right = Math.max(0, width - size.width);
  const bottom = Math.max(0, height - size.height);
  if (right || bottom) img = sharp(await img.png().toBuffer()).extend({ right, bottom, extendWith: 'copy' });
  return img.png().toBuffer();
}

function pixels(raw: Buffer): Uint32Array {
  // A Uint32Array view needs a 4-byte aligned offset; pooled Buffers may not have one.
  const buf = raw.byteOffset % 4 === 0 ? raw : Buffer.from(raw);
  return new Uint32Array(buf.buffer, buf.byteOffset, buf.length / 4);
}
