// The archive on disk (ARCHIVE_DIR): a folder per job, a folder per run named by the UTC
// time of the occurrence it captured.
//
//   <ARCHIVE_DIR>/<job>/2026-12-07T0100Z/          a complete run: report, panels, manifest.json
//   <ARCHIVE_DIR>/<job>/.2026-12-07T0100Z.lock     the claim on that occurrence while it runs
//   <ARCHIVE_DIR>/.partial/<job>.<stamp>.<host>.<pid>/   a run being written
//
// A run is written under .partial/ (same file system) and renamed into place only when it is
// complete and synced, so a reader, a crash, a kill or a full disk never leaves a half run
// among the runs. The lock is created with O_EXCL: two panelshots sharing one ARCHIVE_DIR
// (also over NFS, which honours O_EXCL since v3) never both run one occurrence. Whatever a
// dead process of this host left (its pid is gone) is removed at the next start; another
// host's leftovers once they are a day old.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pidAlive } from '../browser/processes';

const PARTIAL = '.partial';
/** 2026-12-07T0100Z, or 2026-12-07T010005Z when the occurrence is not on a whole minute (6-field cron). */
const RUN_NAME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})(\d{2})(\d{2})?Z$/;
const FOREIGN_STALE_MS = 24 * 3600_000;

export function runName(at: Date): string {
  const iso = at.toISOString(); // 2026-12-07T01:00:05.000Z
  const s = iso.slice(17, 19);
  return `${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${s === '00' ? '' : s}Z`;
}

/** The occurrence a run folder's name stands for; undefined for anything else. */
export function runTime(name: string): Date | undefined {
  const m = RUN_NAME.exec(name);
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, m[6] ? +m[6] : 0));
  return runName(d) === name ? d : undefined;
}

export interface Claim {
  job: string;
  run: string;
  /** Where the run is written until it is complete. */
  staging: string;
  /** The run's folder once complete. */
  final: string;
  lockFile: string;
}

export interface RunEntry {
  run: string;
  at: Date;
  dir: string;
}

export class Archive {
  readonly host = os.hostname().replace(/[^A-Za-z0-9-]/g, '_');

  constructor(readonly dir: string) {}

  /**
   * Claims one occurrence of a job: undefined when it already ran (its folder exists) or
   * another process holds it. Throws only for I/O trouble (a full disk, permissions).
   */
  claim(job: string, at: Date): Claim | undefined {
    const run = runName(at);
    const jobDir = path.join(this.dir, job);
    const final = path.join(jobDir, run);
    fs.mkdirSync(jobDir, { recursive: true });
    fs.mkdirSync(path.join(this.dir, PARTIAL), { recursive: true });
    if (fs.existsSync(final)) return undefined;
    const lockFile = path.join(jobDir, `.${run}.lock`);
    let fd: number;
    try {
      fd = fs.openSync(lockFile, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
      throw e;
    }
    try {
      fs.writeSync(fd, JSON.stringify({ host: this.host, pid: process.pid, at: new Date().toISOString() }));
    } catch (e) {
      fs.closeSync(fd);
      fs.rmSync(lockFile, { force: true });
      throw e;
    }
    fs.closeSync(fd);
    // Checked again under the lock: a run that finished between the check and the lock.
    if (fs.existsSync(final)) {
      fs.rmSync(lockFile, { force: true });
      return undefined;
    }
    const staging = path.join(this.dir, PARTIAL, `${job}.${run}.${this.host}.${process.pid}`);
    fs.rmSync(staging, { recursive: true, force: true });
    try {
      fs.mkdirSync(staging, { recursive: true });
    } catch (e) {
      fs.rmSync(lockFile, { force: true });
      throw e;
    }
    return { job, run, staging, final, lockFile };
  }

  /** Syncs the staged run and renames it into place: from now on it is visible, and complete. */
  commit(c: Claim): void {
    syncTree(c.staging);
    fs.renameSync(c.staging, c.final);
    syncDir(path.dirname(c.final));
  }

  /** Drops what a claim wrote and the claim itself (a failed or cancelled run). */
  release(c: Claim): void {
    fs.rmSync(c.staging, { recursive: true, force: true });
    fs.rmSync(c.lockFile, { force: true });
  }

  /** Replaces one file of a complete run atomically (the manifest, once deliveries are done). */
  replaceFile(runDir: string, name: string, body: string | Buffer): void {
    const tmp = path.join(runDir, `.${name}.${process.pid}.tmp`);
    try {
      fs.writeFileSync(tmp, body);
      fs.renameSync(tmp, path.join(runDir, name));
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  }

  /**
   * What earlier processes left: half-written runs, locks and temporary files of processes
   * of this host that are gone, and another host's when a day old. Returns what was removed.
   */
  cleanLeftovers(): string[] {
    const removed: string[] = [];
    const stale = (host: string, pid: number, mtimeMs: number) =>
      host === this.host ? pid !== process.pid && !pidAlive(pid) : Date.now() - mtimeMs > FOREIGN_STALE_MS;
    const partial = path.join(this.dir, PARTIAL);
    for (const e of safeList(partial)) {
      const m = /\.([^.]+)\.(\d+)$/.exec(e);
      const p = path.join(partial, e);
      const mtime = safeMtime(p);
      if (!m || stale(m[1]!, Number(m[2]), mtime)) {
        fs.rmSync(p, { recursive: true, force: true });
        removed.push(path.relative(this.dir, p));
      }
    }
    for (const job of this.jobs()) {
      const jobDir = path.join(this.dir, job);
      for (const e of safeList(jobDir)) {
        const p = path.join(jobDir, e);
        if (e.endsWith('.lock')) {
          let owner: { host?: string; pid?: number } = {};
          try {
            owner = JSON.parse(fs.readFileSync(p, 'utf8'));
          } catch {
            // An empty lock: its writer died between open and write.
          }
          if (stale(String(owner.host ?? ''), Number(owner.pid ?? 0), safeMtime(p))) {
            fs.rmSync(p, { force: true });
            removed.push(path.relative(this.dir, p));
          }
        } else if (runTime(e)) {
          for (const f of safeList(p)) {
            const t = /\.(\d+)\.tmp$/.exec(f);
            if (f.startsWith('.') && t && !pidAlive(Number(t[1]))) {
              fs.rmSync(path.join(p, f), { force: true });
              removed.push(path.relative(this.dir, path.join(p, f)));
            }
          }
        }
      }
    }
    return removed;
  }

  jobs(): string[] {
    return safeList(this.dir).filter((e) => !e.startsWith('.') && fs.statSync(path.join(this.dir, e), { throwIfNoEntry: false })?.isDirectory());
  }

  /** A job's complete runs, newest first. */
  runs(job: string): RunEntry[] {
    const jobDir = path.join(this.dir, job);
    return safeList(jobDir)
      .map((run) => ({ run, at: runTime(run)!, dir: path.join(jobDir, run) }))
      .filter((r) => r.at)
      .sort((a, b) => b.at.getTime() - a.at.getTime());
  }

  manifest(job: string, run: string): Record<string, unknown> | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dir, job, run, 'manifest.json'), 'utf8'));
    } catch {
      return undefined;
    }
  }

  /**
   * Removes a job's runs beyond `keep` (a count, or an age in days), never `spare`. A run is
   * first renamed out of the job's folder, so an interrupted removal leaves no half run.
   */
  prune(job: string, keep: { days: number } | { count: number }, now: Date, spare: string): string[] {
    const runs = this.runs(job);
    const doomed = 'count' in keep ? runs.slice(keep.count) : runs.filter((r) => r.at.getTime() < now.getTime() - keep.days * 86_400_000);
    const removed: string[] = [];
    for (const r of doomed) {
      if (r.run === spare) continue;
      const trash = path.join(this.dir, PARTIAL, `${job}.${r.run}.pruned.${this.host}.${process.pid}`);
      fs.renameSync(r.dir, trash);
      fs.rmSync(trash, { recursive: true, force: true });
      removed.push(r.run);
    }
    return removed;
  }
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

function safeMtime(p: string): number {
  return fs.statSync(p, { throwIfNoEntry: false })?.mtimeMs ?? 0;
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsync every file and folder below `dir`, so the rename never publishes data still in the page cache. */
function syncTree(dir: string): void {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) syncTree(p);
    else {
      const fd = fs.openSync(p, 'r');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
  syncDir(dir);
}
