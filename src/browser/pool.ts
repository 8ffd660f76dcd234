// The pool owns Chrome's whole life: warm sessions at start, one render at a time each,
// a bounded queue in front, a reset between renders, replacement after a crash, recycling
// after RECYCLE_AFTER renders or when the whole tree passes RECYCLE_MEMORY_MB, and an
// orderly stop.
// generic-pool does the queueing and the min/max bookkeeping; POOL_SIZE is a target that a
// background refill keeps after failed creates, one attempt at a time with back-off and
// jitter (docs/adr/0010-grid-scale-out.md).
import { createPool, type Pool } from 'generic-pool';
import type { DriverOptions } from './driver';
import { driverFactory, type DriverFactory } from './factory';
import { GridError, gridStatus, retryOrphans } from './grid';
import { groupPssMiB, TreePss } from './processes';
import { BrowserSession } from './session';
import { browserFailed, PanelshotError, shuttingDown, tooBusy } from '../errors';
import type { Logger } from '../logger';

export interface PoolOptions {
  size: number;
  queueMax: number;
  queueWaitMs: number;
  recycleAfter: number;
  recycleMemoryMb: number;
  driver: DriverOptions;
  logger: Logger;
  /** Why a Chrome was replaced: 'recycle_renders' | 'recycle_memory' | 'retired' | 'crashed' | 'reset_failed'. */
  onReplace?(reason: string): void;
}

const MEMORY_CHECK_MS = 5000;
/** The memory ceiling reads the tree's PSS at most this often (incrementally, see TreePss). */
const CEILING_CHECK_MS = 1000;

/** After failed creates: the n-th retry waits BASE·2^(n-1), at most MAX, of which a random 0–50 % is dropped. */
export const REFILL_BACKOFF = { baseMs: 500, maxMs: 15_000 };
/** How often the background refill looks for a short pool. */
const REFILL_CHECK_MS = 1000;
/**
 * Idle sessions are pinged this often: a session that no longer answers (its Grid node or
 * hub was restarted, or the node dropped it after its --session-timeout, 300 s by default)
 * is dropped and replaced before a render meets it, and the ping keeps the node's idle
 * timer from expiring.
 */
export const HEARTBEAT = { everyMs: 20_000 };

export interface PoolStats {
  /** POOL_SIZE: the sessions the pool keeps as its target. */
  target: number;
  /** Sessions that exist, busy or idle. */
  live: number;
  /** live plus sessions being created. */
  size: number;
  busy: number;
  idle: number;
  queued: number;
}

export class BrowserPool {
  private readonly pool: Pool<BrowserSession>;
  private stopping = false;
  private readonly drivers: DriverFactory;
  /** PSS readings are costly (4-12 ms per Chrome process): at most one per MEMORY_CHECK_MS. */
  private memoryCache = { at: 0, mib: 0 };
  /** The whole tree (this process, chromedrivers, Chromes) for the RECYCLE_MEMORY_MB ceiling. */
  private readonly tree = new TreePss(() => [process.pid]);
  private treeReading?: Promise<number>;
  private treeCache = { at: 0, mib: 0 };
  /** A memory replacement is under way: the others wait for a reading taken after it. */
  private memoryReplacing = false;
  /** Releases left during which the ceiling replaces nothing (fresh sessions could not meet it). */
  private ceilingUnmet = 0;
  private ceilingTimer?: NodeJS.Timeout;
  /** Every live session, busy or idle (generic-pool does not list them). */
  private readonly live = new Set<BrowserSession>();
  /** Creates that failed in a row (0 = healthy), the last reason, and when the next may start. */
  private failures = 0;
  private lastFailure?: Error;
  private nextAttemptAt = 0;
  /** While creates fail, they run one after another through this chain. */
  private attempts: Promise<void> = Promise.resolve();
  private refillTimer?: NodeJS.Timeout;
  private cleaning?: Promise<void>;
  /** Renders waiting in the queue, to be told at once when no session is left and creates fail. */
  private readonly starving = new Set<(e: Error) => void>();
  /** start() waiting for a full pool (generic-pool's ready() polls forever, even after a failure). */
  private readonly warmWaiters: (() => void)[] = [];
  private wakeUp?: () => void;
  /** Start-up and refill attempts, failed ones (for tests and /metrics). */
  readonly createStats = { attempts: 0, failed: 0 };

  constructor(private readonly o: PoolOptions) {
    this.drivers = driverFactory(o.driver);
    this.pool = createPool<BrowserSession>(
      {
        create: () => this.throttled(async () => {
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
          if (this.live.size >= o.size) for (const w of this.warmWaiters.splice(0)) w();
          return session;
        }),
        destroy: async (s) => {
          this.live.delete(s);
          await s.close();
          o.logger.info({ event: 'chrome_stopped', session: s.id, renders: s.renders }, 'Chrome session stopped');
        },
        validate: (s) => s.answers(),
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
        // Drops idle sessions the heartbeat found broken (see the evictor below).
        evictionRunIntervalMillis: REFILL_CHECK_MS,
        numTestsPerEvictionRun: o.size,
      },
    );
    // generic-pool's own evictor goes by idle time only; ours drops broken sessions only.
    (this.pool as unknown as Internals)._evictor = { evict: (_c: unknown, r: { obj: BrowserSession }) => r.obj.broken };
    this.pool.on('factoryCreateError', (e) => {
      o.logger.error({ event: 'chrome_start_failed', err: String((e as Error).message ?? e), failures: this.failures, retryInMs: Math.max(0, this.nextAttemptAt - Date.now()) }, 'could not start a Chrome session');
    });
    if (typeof (this.pool as unknown as Internals)._ensureMinimum !== 'function') throw new Error('generic-pool changed: _ensureMinimum is gone (BrowserPool refills through it)');
  }

  /**
   * Runs one create. While creates fail, only one runs at a time and each waits its turn
   * of back-off with jitter, so a dead node the hub still offers is not hammered.
   */
  private async throttled<T>(create: () => Promise<T>): Promise<T> {
    let done = () => undefined as void;
    if (this.failures > 0) {
      const before = this.attempts;
      this.attempts = new Promise<void>((r) => (done = r));
      await before;
    }
    try {
      const wait = this.nextAttemptAt - Date.now();
      if (wait > 0 && !this.stopping) await new Promise<void>((r) => {
        const t = setTimeout(r, wait);
        this.wakeUp = () => (clearTimeout(t), r());
      });
      if (this.stopping) throw shuttingDown();
      this.createStats.attempts++;
      const made = await create();
      this.failures = 0;
      this.lastFailure = undefined;
      this.nextAttemptAt = 0;
      return made;
    } catch (e) {
      if (!this.stopping) {
        this.createStats.failed++;
        this.failures++;
        this.lastFailure = e as Error;
        const ceiling = Math.min(REFILL_BACKOFF.maxMs, REFILL_BACKOFF.baseMs * 2 ** (this.failures - 1));
        this.nextAttemptAt = Date.now() + ceiling * (0.5 + Math.random() / 2);
        const starving = this.starvation();
        if (starving) for (const reject of this.starving) reject(starving);
      }
      throw e;
    } finally {
      done();
    }
  }

  /** Keeps POOL_SIZE as the target: generic-pool itself creates only for waiting renders. */
  private startRefill(): void {
    let lastBeat = Date.now();
    this.refillTimer = setInterval(() => {
      if (this.stopping) return;
      if (Date.now() - lastBeat >= HEARTBEAT.everyMs) {
        lastBeat = Date.now();
        for (const s of this.live) {
          if (s.busy || s.broken) continue;
          void s.alive().then((ok) => {
            if (ok || s.busy) return;
            s.broken = true;
            this.o.logger.warn({ event: 'chrome_lost', session: s.id }, 'an idle Chrome session stopped answering; replacing it');
          });
        }
      }
      if (this.live.size >= this.o.size) return;
      if (this.o.driver.seleniumRemoteUrl && !this.cleaning) {
        this.cleaning = retryOrphans().finally(() => (this.cleaning = undefined));
      }
      (this.pool as unknown as Internals)._ensureMinimum();
    }, REFILL_CHECK_MS);
    this.refillTimer.unref();
  }

  /**
   * Starts the warm sessions and resolves when all of them are ready. If Chrome cannot be
   * started at all, fails with the reason instead of waiting forever (generic-pool would).
   * A Grid without a free slot is not such a failure: start resolves, the pool is not warm
   * (/readyz says why), renders get 429, and the refill fills it once slots free up.
   */
  async start(): Promise<void> {
    let onError!: (e: unknown) => void;
    const failed = new Promise<'full'>((resolve, reject) => {
      onError = (e) => {
        // A Grid that is reachable and offers Chrome but gives no session now (full, a dead
        // node it still offers) is waited for in the background, not a reason to exit.
        if (e instanceof GridError && (e.kind === 'full' || e.kind === 'failed')) return resolve('full');
        reject(new Error(`cannot start Chrome: ${String((e as Error)?.message ?? e).split('\n')[0]}`));
      };
      this.pool.once('factoryCreateError', onError);
    });
    this.pool.start();
    try {
      const warm = new Promise<void>((r) => this.warmWaiters.push(r));
      if ((await Promise.race([warm, failed])) === 'full') {
        this.o.logger.warn({ event: 'pool_short', live: this.live.size, target: this.o.size, reason: this.lastFailure?.message }, 'starting without a warm pool: the Grid gives no session now; retrying in the background');
      }
    } finally {
      this.pool.off('factoryCreateError', onError);
      this.warmWaiters.length = 0;
    }
    this.startRefill();
    if (this.o.recycleMemoryMb > 0 && this.o.driver.seleniumRemoteUrl === undefined) {
      this.ceilingTimer = setInterval(() => void this.idleCeiling().catch(() => undefined), CEILING_CHECK_MS).unref();
    }
  }

  get warm(): boolean {
    return !this.stopping && this.live.size >= this.o.size;
  }

  /** Why this pool cannot take renders as it should, or undefined when it can. */
  async notReady(): Promise<string | undefined> {
    if (this.stopping) return 'panelshot is shutting down';
    const grid = this.o.driver.seleniumRemoteUrl;
    if (grid) {
      const unreachable = await gridStatus(grid, 2000).then(
        () => undefined,
        (e: Error) => e.message,
      );
      if (unreachable) return unreachable;
    }
    if (this.warm) return undefined;
    const why = this.lastFailure ? `: ${String(this.lastFailure.message).split('\n')[0]!.slice(0, 200)}` : '';
    return `the Chrome pool is not warm (${this.live.size} of ${this.o.size} sessions)${why}`;
  }

  /** Every live session, busy or idle (tests look at where they run). */
  sessions(): ReadonlySet<BrowserSession> {
    return this.live;
  }

  stats(): PoolStats {
    return { target: this.o.size, live: this.live.size, size: this.pool.size, busy: this.pool.borrowed, idle: this.pool.available, queued: this.pool.pending };
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
    // No session at all and creates failing: say why at once instead of queueing for nothing.
    const starving = this.starvation();
    if (starving) throw starving;
    const waitMs = Math.min(this.o.queueWaitMs, deadline - Date.now());
    // ... and a render already waiting learns it as soon as the last session is gone.
    let onStarve!: (e: Error) => void;
    const starved = new Promise<never>((_, reject) => (onStarve = reject));
    starved.catch(() => undefined);
    this.starving.add(onStarve);
    try {
      // generic-pool's own acquire timeout applies to this call only.
      const s = await withAcquireTimeout(this.pool, Math.max(1, waitMs), starved);
      s.busy = true;
      return s;
    } catch (e) {
      if (this.stopping) throw shuttingDown();
      if (e instanceof PanelshotError) throw e;
      const msg = String((e as Error).message ?? e);
      // generic-pool refuses at once when nothing is free and maxWaitingClients wait already.
      if (/max waitingClients/i.test(msg)) {
        throw tooBusy(`all ${this.o.size} Chrome sessions are busy and ${this.pool.pending} renders are already waiting (QUEUE_MAX=${this.o.queueMax})`, 2);
      }
      if (/timed out/i.test(msg)) {
        throw tooBusy(`no Chrome session became free within ${Math.round(waitMs)} ms (POOL_SIZE=${this.o.size})`, 2);
      }
      throw browserFailed(`cannot get a Chrome session: ${msg.slice(0, 200)}`);
    } finally {
      this.starving.delete(onStarve);
    }
  }

  /** The error for a render when no session exists and creates fail, else undefined. */
  private starvation(): PanelshotError | undefined {
    if (this.live.size > 0 || this.failures === 0 || !this.lastFailure) return undefined;
    const why = String(this.lastFailure.message).split('\n')[0]!.slice(0, 200);
    const retryS = Math.max(1, Math.ceil((this.nextAttemptAt - Date.now()) / 1000));
    if (this.lastFailure instanceof GridError && this.lastFailure.kind === 'full') return tooBusy(`no Chrome session: ${why}`, retryS);
    return browserFailed(`no Chrome session: ${why}`);
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

  private replace(s: BrowserSession, reason: string): Promise<void> {
    this.o.onReplace?.(reason);
    this.o.logger.info({ event: 'chrome_replace', session: s.id, reason, renders: s.renders }, 'replacing Chrome session');
    return this.pool.destroy(s).catch(() => undefined);
  }

  private async recycleOrReset(s: BrowserSession): Promise<void> {
    const replace = (reason: string) => this.replace(s, reason);
    // A session that failed leaves its Chrome (and chromedriver) in doubt: that Chrome takes
    // no new sessions and quits once its other sessions are done.
    if (s.broken) {
      s.handle.retire?.();
      return replace('crashed');
    }
    if (this.o.recycleAfter > 0 && s.renders >= this.o.recycleAfter) return replace('recycle_renders');
    // Its Chrome takes no new sessions (it failed, or grew too big): move to a fresh one.
    if (s.handle.retired?.()) return replace('retired');
    if (this.ceilingUnmet > 0) this.ceilingUnmet--;
    else if (this.o.recycleMemoryMb > 0 && s.pgid !== undefined && !this.memoryReplacing && (await this.treeMiB()) > this.o.recycleMemoryMb) {
      return this.replaceForMemory(s);
    }
    return this.resetAndRelease(s);
  }

  private async resetAndRelease(s: BrowserSession): Promise<void> {
    try {
      await s.reset();
    } catch (e) {
      this.o.logger.warn({ event: 'chrome_reset_failed', session: s.id, err: String((e as Error).message).slice(0, 200) }, 'reset failed');
      s.handle.retire?.();
      return this.replace(s, s.broken ? 'crashed' : 'reset_failed');
    }
    s.busy = false;
    await this.pool.release(s).catch(() => undefined);
  }

  /**
   * The tree is over RECYCLE_MEMORY_MB: replace this session (its tab and browser context;
   * its renderer exits, a fresh one starts in the same Chrome, no new Chrome). One
   * replacement at a time, each judged by a reading taken after the one before. Between
   * renders only; no render waits or fails for it.
   */
  private async replaceForMemory(s: BrowserSession): Promise<void> {
    this.memoryReplacing = true;
    try {
      await this.replace(s, 'recycle_memory');
    } finally {
      this.treeCache.at = 0;
      this.memoryReplacing = false;
    }
  }

  /**
   * The ceiling while nothing renders (after a burst, the releases alone leave the tree
   * where the burst took it): one idle session that has rendered since it was made is
   * replaced per CEILING_CHECK_MS until the tree is under. If only fresh sessions are left
   * and it is still over, fresh sessions cannot meet the ceiling: that is logged (once until
   * the tree is under again) and releases stop replacing for 2 × POOL_SIZE renders.
   */
  private async idleCeiling(): Promise<void> {
    if (this.stopping || this.memoryReplacing || this.pool.borrowed > 0 || this.pool.pending > 0 || this.pool.available === 0) return;
    if ((await this.treeMiB()) <= this.o.recycleMemoryMb) {
      this.ceilingUnmet = 0;
      return;
    }
    if (this.memoryReplacing || this.pool.borrowed > 0 || this.pool.pending > 0) return;
    const used = [...this.live].some((x) => x.renders > 0);
    if (!used) {
      if (this.ceilingUnmet === 0) {
        this.o.logger.warn({ event: 'memory_ceiling_unmet', ceilingMiB: this.o.recycleMemoryMb, treeMiB: Math.round(this.treeCache.mib) }, 'fresh sessions alone are over RECYCLE_MEMORY_MB');
      }
      this.ceilingUnmet = 2 * this.o.size;
      return;
    }
    let s: BrowserSession;
    try {
      s = await withAcquireTimeout(this.pool, 50);
    } catch {
      return;
    }
    // A fresh one: back to the end of the queue; the next check gets another.
    if (s.renders === 0) return void (await this.pool.release(s).catch(() => undefined));
    await this.replaceForMemory(s);
  }

  /** PSS of this process and everything under it (chromedrivers, Chromes), in MiB. */
  private treeMiB(): Promise<number> {
    if (Date.now() - this.treeCache.at < CEILING_CHECK_MS) return Promise.resolve(this.treeCache.mib);
    this.treeReading ??= this.tree
      .read()
      .then((r) => {
        this.treeCache = { at: Date.now(), mib: r.kib / 1024 };
        return this.treeCache.mib;
      })
      .finally(() => {
        this.treeReading = undefined;
      });
    return this.treeReading;
  }

  /** Stops handing out sessions, waits for borrowed ones to come back, then quits every Chrome. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.refillTimer);
    this.wakeUp?.();
    clearInterval(this.ceilingTimer);
    await this.pool.drain().catch(() => undefined);
    await this.pool.clear().catch(() => undefined);
    await this.drivers.stop();
  }
}

/** generic-pool internals used here: topping up to `min` (counting creates in flight), and the evictor. */
interface Internals {
  _ensureMinimum(): void;
  _evictor: { evict(config: unknown, resource: { obj: BrowserSession }, available: number): boolean };
}

async function withAcquireTimeout(pool: Pool<BrowserSession>, ms: number, abandon: Promise<never> = new Promise<never>(() => undefined)): Promise<BrowserSession> {
  let timer: NodeJS.Timeout | undefined;
  const acquiring = pool.acquire();
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('acquire timed out')), ms);
  });
  try {
    return await Promise.race([acquiring, timeout, abandon]);
  } catch (e) {
    // The request stays in generic-pool's queue; hand the session straight back when it comes.
    acquiring.then((s) => pool.release(s)).catch(() => undefined);
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
