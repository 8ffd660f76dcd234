// The step after capture: turns the settled, exactly sized PNG frame into what the caller
// asked for. PNG passes through untouched (Grafana's own calls); JPEG and WebP are encoded
// by sharp from that same frame, so their size is exactly the PNG's.
import sharp from 'sharp';

export type ImageFormat = 'png' | 'jpeg' | 'webp';

/** What the caller wants back: PNG, or a lossy format at a quality of 1..100. */
export type Encoding = { format: 'png' } | { format: 'jpeg' | 'webp'; quality: number };

export const DEFAULT_QUALITY = 85;

export interface EncodedImage {
  body: Buffer;
  contentType: string;
  /** File name extension without the dot. */
  ext: string;
}

/**
 * A file name stem safe in a Content-Disposition header and on any disk: letters, digits,
 * `._-` only, no leading or trailing dot or dash, at most 80 characters; `fallback` when
 * nothing of `s` is left.
 */
export function safeFileStem(s: string, fallback: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '').slice(0, 80) || fallback;
}

const TYPES: Record<ImageFormat, { contentType: string; ext: string }> = {
  png: { contentType: 'image/png', ext: 'png' },
  jpeg: { contentType: 'image/jpeg', ext: 'jpg' },
  webp: { contentType: 'image/webp', ext: 'webp' },
};

export function extensionOf(format: ImageFormat): string {
  return TYPES[format].ext;
}

export async function encode(png: Buffer, enc: Encoding): Promise<EncodedImage> {
  const { contentType, ext } = TYPES[enc.format];
  if (enc.format === 'png') return { body: png, contentType, ext };
  const img = sharp(png);
  // JPEG has no alpha: flatten onto white like a browser shows a transparent page.
  const body = enc.format === 'jpeg' ? await img.flatten({ background: '#ffffff' }).jpeg({ quality: enc.quality, mozjpeg: true }).toBuffer() : await img.webp({ quality: enc.quality }).toBuffer();
  return { body, contentType, ext };
}

/** For keys and logs: `png`, `jpeg@85`. */
export function encodingLabel(enc: Encoding): string {
  return enc.format === 'png' ? 'png' : `${enc.format}@${enc.quality}`;
}
