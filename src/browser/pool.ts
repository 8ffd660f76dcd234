// The pool owns Chrome's whole life: warm sessions at start, one render at a time each,
// a bounded queue in front, a reset between renders, replacement after a crash, recycling
// after RECYCLE_AFTER renders or RECYCLE_MEMORY_MB, and an orderly stop.
// generic-pool does the queueing and the min/max bookkeeping.
import { createPool, type Pool } from 'generic-pool';
import { driverFactory, type DriverFactory, type DriverOptions } from './driver';
import { groupPssMiB } from './processes';
import { BrowserSession } from './session';
import { browserFailed, shuttingDown, tooBusy } from '../errors';
import type { Logger } from '../logger';

export interface PoolOptions {
  size: number;
  queueMax: number;
  queueWaitMs: number;
  recycleAfter: number;
  recycleMemoryMb: number;
  driver: DriverOptions;
  logger: Logger;
  /** Why a Chrome was replaced: 'recycle_renders' | 'recycle_memory' | 'crashed' | 'reset_failed'. */
  onReplace?(reason: string): void;
}

const MEMORY_CHECK_MS = 5000;

export interface PoolStats {
  size: number;
  busy: number;
  idle: number;
  queued: number;
}

export class BrowserPool {
  private readonly pool: Pool<BrowserSession>;
  private stopping = false;
  private readonly drivers: DriverFactory;
  /** PSS readings are costly (~2 ms per process): at most one per MEMORY_CHECK_MS. */
  private lastMemoryCheck = 0;
  private memoryCache = { at: 0, mib: 0 };
  /** Every live session, busy or idle (generic-pool does not list them). */
  private readonly live = new Set<BrowserSession>();

  constructor(private readonly o: PoolOptions) {
    this.drivers = driverFactory(o.driver);
    this.pool = createPool<BrowserSession>(
      {
        create: async () => {
          const started = Date.now();
          const session = new BrowserSession(await this.drivers.createDriver());
          try {
            await session.prepareTab();
          } catch (e) {
            await session.close();
            throw e;
          }
          o.logger.info({ event: 'chrome_started', session: session.id, ms: Date.now() - started }, 'Chrome session ready');
          this.live.add(session);
          return session;
        },
        destroy: async (s) => {
          this.live.delete(s);
          await s.close();
          o.logger.info({ event: 'chrome_stopped', session: s.id, renders: s.renders }, 'Chrome session stopped');
        },
        validate: (s) => s.alive(),
      },
      {
        min: o.size,
        max: o.size,
        // A waiting render beyond queueMax is refused at once with 429.
        maxWaitingClients: o.queueMax,
        // Removes a timed-out waiter from the queue; a shorter per-request deadline is raced below.
        ...(o.queueWaitMs > 0 ? { acquireTimeoutMillis: o.queueWaitMs } : {}),
        testOnBorrow: true,
        autostart: false,
      },
    );
    this.pool.on('factoryCreateError', (e) => {
      o.logger.error({ event: 'chrome_start_failed', err: String((e as Error).message ?? e) }, 'could not start a Chrome session');
    });
  }

  /**
   * Starts the warm sessions and resolves when all of them are ready. If Chrome cannot be
   * started at all, fails with the reason instead of waiting forever (generic-pool would).
   */
  async start(): Promise<void> {
    let onError!: (e: unknown) => void;
    const failed = new Promise<never>((_, reject) => {
      onError = (e) => reject(new Error(`cannot start Chrome: ${String((e as Error)?.message ?? e).split('\n')[0]}`));
      this.pool.once('factoryCreateError', onError);
    });
    this.pool.start();
    try {
      await Promise.race([this.pool.ready(), failed]);
    } finally {
      this.pool.off('factoryCreateError', onError);
    }
  }

  get warm(): boolean {
    return !this.stopping && this.pool.size >= this.o.size && this.pool.size > 0;
  }

  stats(): PoolStats {
    return { size: this.pool.size, busy: this.pool.borrowed, idle: this.pool.available, queued: this.pool.pending };
  }

  /** PSS of every local Chrome with its chromedriver, in MiB (cached for a few seconds). */
  memoryMiB(): number {
    if (Date.now() - this.memoryCache.at < MEMORY_CHECK_MS) return this.memoryCache.mib;
    const groups = new Set<number>();
    for (const s of this.live) if (s.pgid !== undefined) groups.add(s.pgid);
    let mib = 0;
    for (const g of groups) mib += groupPssMiB(g);
    this.memoryCache = { at: Date.now(), mib };
    return mib;
  }

  /** A session for one render; waits in the queue at most until `deadline` (and QUEUE_WAIT_MS). */
  async acquire(deadline: number): Promise<BrowserSession> {
    if (this.stopping) throw shuttingDown();
    const waitMs = Math.min(this.o.queueWaitMs, deadline - Date.now());
    try {
      // generic-pool's own acquire timeout applies to this call only.
      return await withAcquireTimeout(this.pool, Math.max(1, waitMs));
    } catch (e) {
      if (this.stopping) throw shuttingDown();
      const msg = String((e as Error).message ?? e);
      // generic-pool refuses at once when nothing is free and maxWaitingClients wait already.
      if (/max waitingClients/i.test(msg)) {
        throw tooBusy(`all ${this.o.size} Chrome sessions are busy and ${this.pool.pending} renders are already waiting (QUEUE_MAX=${this.o.queueMax})`, 2);
      }
      if (/timed out/i.test(msg)) {
        throw tooBusy(`no Chrome session became free within ${Math.round(waitMs)} ms (POOL_SIZE=${this.o.size})`, 2);
      }
      throw browserFailed(`cannot get a Chrome session: ${msg.slice(0, 200)}`);
    }
  }

  /**
   * Gives a session back after a render. The reset (or replacement) happens here, off the
   * render's own path; the session is only handed out again once it is clean.
   */
  release(session: BrowserSession): void {
    session.renders++;
    void this.recycleOrReset(session);
  }

  /** Gives back a session that was not used (its tab is still clean): no reset needed. */
  giveBack(session: BrowserSession): void {
    void this.pool.release(session).catch(() => undefined);
  }

  private async recycleOrReset(s: BrowserSession): Promise<void> {
    const replace = (reason: string) => {
      this.o.onReplace?.(reason);
      this.o.logger.info({ event: 'chrome_replace', session: s.id, reason, renders: s.renders }, 'replacing Chrome session');
      return this.pool.destroy(s).catch(() => undefined);
    };
    // A session that failed leaves its Chrome (and chromedriver) in doubt: that Chrome takes
    // no new sessions and quits once its other sessions are done.
    if (s.broken) {
      s.handle.retire?.();
      return replace('crashed');
    }
    if (this.o.recycleAfter > 0 && s.renders >= this.o.recycleAfter) return replace('recycle_renders');
    if (this.o.recycleMemoryMb > 0 && s.pgid !== undefined && Date.now() - this.lastMemoryCheck >= MEMORY_CHECK_MS) {
      this.lastMemoryCheck = Date.now();
      if (groupPssMiB(s.pgid) > this.o.recycleMemoryMb) {
        // The whole Chrome is over the limit: it takes no new sessions and quits when empty.
        s.handle.retire?.();
        return replace('recycle_memory');
      }
    }
    try {
      await s.reset();
    } catch (e) {
      this.o.logger.warn({ event: 'chrome_reset_failed', session: s.id, err: String((e as Error).message).slice(0, 200) }, 'reset failed');
      s.handle.retire?.();
      return replace(s.broken ? 'crashed' : 'reset_failed');
    }
    await this.pool.release(s).catch(() => undefined);
  }

  /** Stops handing out sessions, waits for borrowed ones to come back, then quits every Chrome. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.pool.drain().catch(() => undefined);
    await this.pool.clear().catch(() => undefined);
    await this.drivers.stop();
  }
}

async function withAcquireTimeout(pool: Pool<BrowserSession>, ms: number): Promise<BrowserSession> {
  let timer: NodeJS.Timeout | undefined;
  const acquiring = pool.acquire();
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('acquire timed out')), ms);
  });
  try {
    return await Promise.race([acquiring, timeout]);
  } catch (e) {
    // The request stays in generic-pool's queue; hand the session straight back when it comes.
    acquiring.then((s) => pool.release(s)).catch(() => undefined);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
