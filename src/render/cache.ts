// A short render cache (CACHE_TTL_S, off by default): a burst of notifications for one
// panel costs one render even when the requests do not overlap in time. Bounded in bytes
// (CACHE_MAX_BYTES, least recently used out first). Only settled pictures of direct and
// signed-link requests go in; Grafana's renderKey requests never touch it, since each key
// stands for a user and what that user may see.
import { LRUCache } from 'lru-cache';
import type { RenderedImage } from './types';

interface Entry {
  image: RenderedImage;
  storedAt: number;
}

export class RenderCache {
  private readonly lru: LRUCache<string, Entry>;

  constructor(ttlS: number, maxBytes: number) {
    this.lru = new LRUCache<string, Entry>({
      ttl: ttlS * 1000,
      maxSize: maxBytes,
      sizeCalculation: (e) => Math.max(1, e.image.body.length),
    });
  }

  get(key: string, now = Date.now()): RenderedImage | undefined {
    const e = this.lru.get(key);
    if (!e) return undefined;
    return { ...e.image, shared: false, ageS: Math.floor((now - e.storedAt) / 1000) };
  }

  set(key: string, image: RenderedImage): void {
    // An image larger than the whole cache is simply not kept.
    if (image.body.length > this.lru.maxSize) return;
    this.lru.set(key, { image, storedAt: Date.now() });
  }

  stats(): { entries: number; bytes: number } {
    return { entries: this.lru.size, bytes: this.lru.calculatedSize };
  }
}
