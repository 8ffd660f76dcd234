// Scheduled captures without Chrome: the jobs file's checks (and exit 78 at start and from
// `panelshot jobs check`), the clock in a job's timezone across DST with an injected clock,
// skip-on-overlap and catch-up, the archive's lock, leftovers and pruning, archive links.
// The run itself is a stand-in function here (what a run does is checked end to end in
// schedule-e2e.test.ts); its timing and the archive on disk are real. Delivery's size
// limit and allow-list are checked against a real SMTP server and webhook receiver.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../src/config';
import { signArchiveLink, verifyArchiveLink } from '../src/links/archive';
import { createLogger } from '../src/logger';
import { Archive, runName, runTime } from '../src/schedule/archive';
import { deliver, fillTemplate } from '../src/schedule/deliver';
import { parseJobs, type Job } from '../src/schedule/jobs';
import type { Manifest, RunResult, Trigger } from '../src/schedule/run';
import { missedOccurrence, nextOccurrence, Scheduler } from '../src/schedule/scheduler';
import { makePki, startHookReceiver, startSmtp } from './support/mail';

const root = path.join(__dirname, '..');
const config = loadConfig({ GRAFANA_URL: 'http://grafana:3000/', SMTP_URL: 'smtp://u:p@mail:587', SMTP_FROM: 'ps@example.com', WEBHOOK_ALLOW: 'chat.example.com' });

const EXAMPLE = `
jobs:
  - name: morning-inspection        # [a-z0-9-], unique; names the archive folder
    schedule: "0 9 * * 1-5"         # cron; 6 fields = seconds first
    timezone: Asia/Shanghai         # IANA; DST handled
    dashboards:
      - url: http://grafana:3000/d/abc/node?orgId=1&var-host=web-1
        from: now-24h               # Grafana time syntax, resolved when the run starts
        to: now
    output: [report, panels]        # report = /report PDF; panels = every panel as images + manifest
    width: 1000
    height: 500
    keep: 90d                       # or a count, e.g. 30
    deliver:
      email: { to: [ops@example.com], subject: "Inspection {{dashboard}} {{from}} – {{to}}" }
      webhook: { url: "https://chat.example.com/hooks/abc" }
`;

const made: string[] = [];
after(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}

function logSink(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, logger: createLogger('debug', sink) };
}

describe('the jobs file', () => {
  test("the issue's example is valid and read as written", () => {
    const [j] = parseJobs(EXAMPLE, 'jobs.yaml', config);
    assert.equal(j!.name, 'morning-inspection');
    assert.equal(j!.timezone, 'Asia/Shanghai');
    assert.deepEqual(j!.output, ['report', 'panels']);
    assert.deepEqual(j!.keep, { days: 90 });
    assert.equal(j!.dashboards[0]!.from, 'now-24h');
    assert.deepEqual(j!.deliver.email!.to, ['ops@example.com']);
    assert.equal(j!.deliver.webhook!.url.host, 'chat.example.com');
    assert.deepEqual(parseJobs(EXAMPLE.replace('keep: 90d', 'keep: 30'), 'f', config)[0]!.keep, { count: 30 });
  });

  const bad: [string, (y: string) => string, RegExp][] = [
    ['a cron expression that is not one', (y) => y.replace('"0 9 * * 1-5"', '"0 25 * * *"'), /job "morning-inspection": schedule: is not a cron expression/],
    ['an unknown timezone', (y) => y.replace('Asia/Shanghai', 'Mars/Olympus'), /job "morning-inspection": timezone: must be an IANA timezone/],
    ['a name with capitals', (y) => y.replace('name: morning-inspection', 'name: Morning'), /job "Morning": name: must be/],
    ['an unknown field', (y) => y.replace('    width: 1000', '    widht: 1000'), /job "morning-inspection": \(the job\): unknown field widht/],
    ['a dashboard elsewhere', (y) => y.replace('http://grafana:3000/d/abc', 'http://evil:3000/d/abc'), /job "morning-inspection": dashboards\.0\.url: must be on GRAFANA_URL's origin/],
    ['a panel URL instead of a dashboard', (y) => y.replace('/d/abc/node', '/d-solo/abc/node'), /dashboards\.0\.url: must be a dashboard URL/],
    ['a webhook host not allowed', (y) => y.replace('chat.example.com/hooks', 'other.example.com/hooks'), /job "morning-inspection": deliver\.webhook\.url: its host is not in WEBHOOK_ALLOW/],
    ['keep in weeks', (y) => y.replace('keep: 90d', 'keep: 2w'), /job "morning-inspection": keep: must be a number of days/],
    ['an output that is not one', (y) => y.replace('[report, panels]', '[report, csv]'), /job "morning-inspection": output\.1: must be report or panels/],
    ['no dashboards', (y) => y.replace(/    dashboards:\n.*\n.*\n.*\n/, '    dashboards: []\n'), /dashboards: must list at least one dashboard/],
    ['a bad address', (y) => y.replace('ops@example.com', 'ops'), /deliver\.email\.to\.0: must be an e-mail address/],
    ['two jobs of one name', (y) => y + y.replace('jobs:\n', ''), /job "morning-inspection": name: used by another job/],
    ['broken YAML', (y) => y.replace('timezone: Asia/Shanghai', 'timezone: [Asia'), /^JOBS_FILE jobs\.yaml: not valid YAML/],
    ['no jobs list', () => 'job: []', /must hold `jobs:`/],
  ];
  for (const [what, edit, message] of bad) {
    test(`refused with one line naming the job and the field: ${what}`, () => {
      assert.throws(() => parseJobs(edit(EXAMPLE), 'jobs.yaml', config), (e: Error) => {
        assert.ok(e instanceof ConfigError);
        assert.match(e.message, message);
        assert.match(e.message, /^JOBS_FILE jobs\.yaml: /);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      });
    });
  }

  test('e-mail without SMTP_URL is refused', () => {
    const noMail = loadConfig({ GRAFANA_URL: 'http://grafana:3000/', WEBHOOK_ALLOW: 'chat.example.com' });
    assert.throws(() => parseJobs(EXAMPLE, 'f', noMail), /deliver\.email: needs SMTP_URL and SMTP_FROM/);
  });

  test('`panelshot jobs check` and a start with a bad file: exit 78 and one line; a good file passes', () => {
    const dir = tmp('ps-jobs-');
    const good = path.join(dir, 'good.yaml');
    const badFile = path.join(dir, 'bad.yaml');
    fs.writeFileSync(good, EXAMPLE);
    fs.writeFileSync(badFile, EXAMPLE.replace('Asia/Shanghai', 'Mars/Olympus'));
    const env = { ...process.env, GRAFANA_URL: 'http://grafana:3000/', SMTP_URL: 'smtp://u:p@mail:587', SMTP_FROM: 'ps@example.com', WEBHOOK_ALLOW: 'chat.example.com', HTTP_PORT: '0' };
    const cli = (args: string[], extra: Record<string, string> = {}) => spawnSync(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(root, 'src/main.ts'), ...args], { env: { ...env, ...extra }, encoding: 'utf8', timeout: 30_000, cwd: dir });
    const ok = cli(['jobs', 'check', good]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /1 job valid \(morning-inspection\)/);
    const no = cli(['jobs', 'check', badFile]);
    assert.equal(no.status, 78);
    assert.equal(no.stderr.trim().split('\n').length, 1);
    assert.match(no.stderr, /^panelshot jobs: JOBS_FILE .*bad\.yaml: job "morning-inspection": timezone: must be an IANA timezone/);
    // The service refuses to start (before any Chrome): one JSON line, exit 78.
    const serve = cli([], { JOBS_FILE: badFile });
    assert.equal(serve.status, 78, serve.stdout + serve.stderr);
    const lines = serve.stdout.trim().split('\n');
    assert.equal(lines.length, 1, serve.stdout);
    const line = JSON.parse(lines[0]!);
    assert.equal(line.event, 'config_invalid');
    assert.match(line.msg, /job "morning-inspection": timezone/);
    const noArchive = cli([], { JOBS_FILE: good, ARCHIVE_DIR: '/dev/null/archive' });
    assert.equal(noArchive.status, 78, noArchive.stdout + noArchive.stderr);
    assert.match(JSON.parse(noArchive.stdout.trim()).msg, /ARCHIVE_DIR \/dev\/null\/archive cannot be written \(ENOTDIR\)/);
    const usage = cli(['jobs', 'frobnicate']);
    assert.equal(usage.status, 2);
    assert.match(cli(['--help']).stdout, /panelshot jobs list \| run <name> \| check \[FILE\]/);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

test('systemctl reload sends SIGHUP (ExecReload=)', () => {
  const unit = fs.readFileSync(path.join(root, 'systemd', 'panelshot.service'), 'utf8');
  assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
});

describe('the clock', () => {
  const job = (schedule: string, timezone: string) => ({ schedule, timezone });

  test('runs at the wall-clock time of the job\'s zone across both DST changes (Europe/Berlin)', () => {
    // 09:00 Berlin is 08:00Z in winter (CET) and 07:00Z in summer (CEST).
    const runs: string[] = [];
    let t = new Date('2026-03-27T12:00:00Z');
    for (let i = 0; i < 3; i++) runs.push((t = nextOccurrence(job('0 9 * * *', 'Europe/Berlin'), t)!).toISOString());
    assert.deepEqual(runs, ['2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z', '2026-03-30T07:00:00.000Z']);
    const autumn: string[] = [];
    t = new Date('2026-10-24T12:00:00Z');
    for (let i = 0; i < 2; i++) autumn.push((t = nextOccurrence(job('0 9 * * *', 'Europe/Berlin'), t)!).toISOString());
    assert.deepEqual(autumn, ['2026-10-25T08:00:00.000Z', '2026-10-26T08:00:00.000Z']);
  });

  test('a time skipped by spring-forward runs once in the next hour; one repeated by fall-back runs once', () => {
    // 02:30 does not exist in Berlin on 2026-03-29; it exists twice on 2026-10-25.
    const spring = nextOccurrence(job('30 2 * * *', 'Europe/Berlin'), new Date('2026-03-28T12:00:00Z'))!;
    assert.equal(spring.toISOString(), '2026-03-29T01:00:00.000Z'); // 03:00 CEST
    const after = nextOccurrence(job('30 2 * * *', 'Europe/Berlin'), spring)!;
    assert.equal(after.toISOString(), '2026-03-30T00:30:00.000Z');
    const fall = nextOccurrence(job('30 2 * * *', 'Europe/Berlin'), new Date('2026-10-24T12:00:00Z'))!;
    assert.equal(fall.toISOString(), '2026-10-25T00:30:00.000Z'); // the first 02:30 (CEST)
    assert.equal(nextOccurrence(job('30 2 * * *', 'Europe/Berlin'), fall)!.toISOString(), '2026-10-26T01:30:00.000Z');
  });

  test('weekdays are the zone\'s weekdays (Asia/Shanghai, Monday 09:00 is Monday 01:00Z)', () => {
    const n = nextOccurrence(job('0 9 * * 1-5', 'Asia/Shanghai'), new Date('2026-12-05T12:00:00Z'))!; // a Saturday
    assert.equal(n.toISOString(), '2026-12-07T01:00:00.000Z');
    assert.equal(runName(n), '2026-12-07T0100Z');
    assert.equal(runName(new Date('2026-12-07T01:00:05Z')), '2026-12-07T010005Z');
    assert.equal(runTime('2026-12-07T0100Z')!.toISOString(), n.toISOString());
    assert.equal(runTime('2026-13-07T0100Z'), undefined);
  });

  test('catch-up: only the latest missed occurrence, and only for a job that has run before', () => {
    const j = job('0 9 * * *', 'UTC');
    const now = new Date('2026-12-07T12:00:00Z');
    assert.equal(missedOccurrence(j, new Date('2026-12-01T09:00:00Z'), now)!.toISOString(), '2026-12-07T09:00:00.000Z');
    assert.equal(missedOccurrence(j, new Date('2026-12-07T09:00:00Z'), now), undefined);
    assert.equal(missedOccurrence(j, undefined, now), undefined);
  });
});

describe('the scheduler with an injected clock', () => {
  const jobOf = (name: string, schedule: string): Job => ({ name, schedule, timezone: 'Europe/Berlin', dashboards: [{ url: new URL('http://grafana:3000/d/a/b'), from: 'now-1h', to: 'now' }], output: ['panels'], width: 100, height: 100, timeoutS: 30, deliver: {} });
  const manifestOf = (job: string, at: Date): Manifest => ({ job, run: runName(at), trigger: 'schedule', scheduledAt: at.toISOString(), startedAt: at.toISOString(), finishedAt: at.toISOString(), ms: 1, timezone: 'UTC', range: { from: '', to: '', fromMs: 0, toMs: 0 }, outcome: 'ok', errors: [], dashboards: [], deliveries: [] });

  /** A run that writes a real run folder through the archive and ends when `release` is called. */
  function harness(archive: Archive) {
    const calls: { job: string; at: string; trigger: Trigger }[] = [];
    const releases: (() => void)[] = [];
    const run = async (job: Job, at: Date, trigger: Trigger): Promise<RunResult | undefined> => {
      const c = archive.claim(job.name, at);
      if (!c) return undefined;
      calls.push({ job: job.name, at: at.toISOString(), trigger });
      await new Promise<void>((r) => releases.push(r));
      fs.writeFileSync(path.join(c.staging, 'manifest.json'), JSON.stringify(manifestOf(job.name, at)));
      archive.commit(c);
      fs.rmSync(c.lockFile);
      return { dir: c.final, manifest: manifestOf(job.name, at) };
    };
    return { calls, releases, run };
  }

  test('due runs start at their time; one still going makes the next skipped and logged', async () => {
    const archive = new Archive(tmp('ps-arch-'));
    const h = harness(archive);
    let now = Date.parse('2026-03-29T00:59:00Z');
    const { lines, logger } = logSink();
    const s = new Scheduler({ archive, logger, clock: { now: () => now }, timers: false, run: h.run }, [jobOf('night', '30 2 * * *')]);
    s.start();
    assert.equal(s.status()[0]!.next, '2026-03-29T01:00:00.000Z', 'the skipped 02:30 of spring-forward runs at 03:00 CEST');
    assert.equal(s.tick().length, 0, 'nothing is due a minute early');
    now = Date.parse('2026-03-29T01:00:00Z');
    const [first] = s.tick();
    assert.ok(first);
    assert.deepEqual(h.calls, [{ job: 'night', at: '2026-03-29T01:00:00.000Z', trigger: 'schedule' }]);
    // The next night arrives while the first run is still going (a hung Grafana, say).
    now = Date.parse('2026-03-30T00:30:00Z');
    assert.equal(s.tick().length, 0);
    assert.equal(h.calls.length, 1);
    assert.ok(lines.some((l) => /"event":"job_skipped"/.test(l) && /2026-03-30T00:30:00.000Z/.test(l)), 'the skip is logged');
    h.releases.shift()!();
    await first;
    assert.equal(s.status()[0]!.last!.outcome, 'ok');
    assert.equal(s.status()[0]!.next, '2026-03-31T00:30:00.000Z');
    assert.deepEqual(archive.runs('night').map((r) => r.run), ['2026-03-29T0100Z']);
    await s.stop();
  });

  test('after downtime the latest missed run is made once at start; a fresh job waits for its time', async () => {
    const archive = new Archive(tmp('ps-arch-'));
    // The archive says the job last ran on Friday; panelshot was down over the weekend.
    const fri = new Date('2026-12-04T08:00:00Z');
    const c = archive.claim('daily', fri)!;
    fs.writeFileSync(path.join(c.staging, 'manifest.json'), JSON.stringify(manifestOf('daily', fri)));
    archive.commit(c);
    fs.rmSync(c.lockFile);
    const h = harness(archive);
    const now = Date.parse('2026-12-07T10:00:00Z');
    const { lines, logger } = logSink();
    const s = new Scheduler({ archive, logger, clock: { now: () => now }, timers: false, run: h.run }, [jobOf('daily', '0 9 * * *'), jobOf('fresh', '0 9 * * *')]);
    s.start();
    assert.deepEqual(h.calls, [{ job: 'daily', at: '2026-12-07T08:00:00.000Z', trigger: 'catch-up' }], 'Monday 09:00 Berlin once; Saturday and Sunday are not made up');
    assert.ok(lines.some((l) => /"event":"job_catch_up"/.test(l)));
    h.releases.shift()!();
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(archive.runs('daily').map((r) => r.run), ['2026-12-07T0800Z', '2026-12-04T0800Z']);
    // A second start (a restart right after) finds nothing missed.
    const s2 = new Scheduler({ archive, logger, clock: { now: () => now }, timers: false, run: h.run }, [jobOf('daily', '0 9 * * *')]);
    s2.start();
    assert.equal(h.calls.length, 1);
    await s.stop();
    await s2.stop();
  });

  test('reload: new schedules apply, a removed job stops', async () => {
    const archive = new Archive(tmp('ps-arch-'));
    const h = harness(archive);
    const { logger } = logSink();
    const now = Date.parse('2026-12-07T10:00:00Z');
    const s = new Scheduler({ archive, logger, clock: { now: () => now }, timers: false, run: h.run }, [jobOf('a', '0 9 * * *'), jobOf('b', '0 9 * * *')]);
    s.reload([jobOf('a', '0 12 * * *')]);
    assert.deepEqual(s.status().map((x) => [x.name, x.next]), [['a', '2026-12-07T11:00:00.000Z']]);
    await s.stop();
  });
});

describe('the archive', () => {
  test('an occurrence is claimed once, also by a second instance sharing the directory', () => {
    const dir = tmp('ps-arch-');
    const a = new Archive(dir);
    const b = new Archive(dir);
    const at = new Date('2026-12-07T01:00:00Z');
    const c = a.claim('j', at)!;
    assert.ok(c);
    assert.equal(b.claim('j', at), undefined, 'the lock holds');
    fs.writeFileSync(path.join(c.staging, 'x'), 'x');
    assert.deepEqual(a.runs('j'), [], 'nothing is visible before the commit');
    a.commit(c);
    fs.rmSync(c.lockFile);
    assert.equal(b.claim('j', at), undefined, 'a finished occurrence is not run again');
    assert.deepEqual(fs.readdirSync(path.join(dir, 'j')), ['2026-12-07T0100Z']);
  });

  test('leftovers of a dead process go at start; a live process\'s stay', () => {
    const dir = tmp('ps-arch-');
    const a = new Archive(dir);
    const mine = a.claim('j', new Date('2026-12-07T02:00:00Z'))!;
    // What a killed panelshot (a pid that no longer exists) left behind.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    fs.mkdirSync(path.join(dir, '.partial', `j.2026-12-07T0100Z.${a.host}.${dead}`));
    fs.writeFileSync(path.join(dir, '.partial', `j.2026-12-07T0100Z.${a.host}.${dead}`, 'panel-1.png'), 'half');
    fs.writeFileSync(path.join(dir, 'j', '.2026-12-07T0100Z.lock'), JSON.stringify({ host: a.host, pid: Number(dead) }));
    const removed = new Archive(dir).cleanLeftovers();
    assert.equal(removed.length, 2, removed.join());
    assert.deepEqual(fs.readdirSync(path.join(dir, '.partial')), [path.basename(mine.staging)]);
    assert.ok(fs.existsSync(mine.lockFile));
  });

  test('keep prunes by count and by age, never the run just made', () => {
    const dir = tmp('ps-arch-');
    const a = new Archive(dir);
    const days = [1, 2, 3, 4, 5].map((d) => new Date(Date.UTC(2026, 11, d, 1)));
    for (const d of days) {
      const c = a.claim('j', d)!;
      a.commit(c);
      fs.rmSync(c.lockFile);
    }
    assert.deepEqual(a.prune('j', { count: 3 }, new Date('2026-12-05T02:00:00Z'), '2026-12-05T0100Z'), ['2026-12-02T0100Z', '2026-12-01T0100Z']);
    assert.deepEqual(a.prune('j', { days: 1 }, new Date('2026-12-05T00:30:00Z'), '2026-12-05T0100Z'), ['2026-12-03T0100Z']);
    assert.deepEqual(a.runs('j').map((r) => r.run), ['2026-12-05T0100Z', '2026-12-04T0100Z']);
    assert.deepEqual(a.prune('j', { days: 1 }, new Date('2027-01-05T00:00:00Z'), '2026-12-05T0100Z'), ['2026-12-04T0100Z']);
    assert.deepEqual(fs.readdirSync(path.join(dir, '.partial')), [], 'nothing half-removed is left');
  });
});

test('archive links: good for one file until they expire; changed, expired or re-aimed links are refused', () => {
  const now = Date.parse('2026-12-07T10:00:00Z');
  const exp = now / 1000 + 3600;
  const link = new URL(signArchiveLink('https://r.example.com', 'j/2026-12-07T0100Z/01-x/report.pdf', 'a-secret-of-sixteen+', exp));
  assert.equal(link.pathname, '/archive/j/2026-12-07T0100Z/01-x/report.pdf');
  const sig = link.searchParams.get('sig')!;
  verifyArchiveLink('j/2026-12-07T0100Z/01-x/report.pdf', String(exp), sig, ['old-secret-of-sixteen', 'a-secret-of-sixteen+'], 86_400, now);
  assert.throws(() => verifyArchiveLink('j/2026-12-07T0100Z/manifest.json', String(exp), sig, ['a-secret-of-sixteen+'], 86_400, now), /signature does not match/);
  assert.throws(() => verifyArchiveLink('j/2026-12-07T0100Z/01-x/report.pdf', String(exp + 1), sig, ['a-secret-of-sixteen+'], 86_400, now), /signature does not match/);
  assert.throws(() => verifyArchiveLink('j/2026-12-07T0100Z/01-x/report.pdf', String(exp), sig, ['a-secret-of-sixteen+'], 86_400, now + 7200_000), /expired/);
});

test('subject templates fill job, dashboards and the range, and never break the header line', () => {
  const m = { job: 'j', run: 'r', dashboards: [{ url: 'u', title: 'Node' }], range: { from: '2026-12-06T09:00:00.000+08:00', to: '2026-12-07T09:00:00.000+08:00' }, outcome: 'ok' } as unknown as Manifest;
  assert.equal(fillTemplate('Inspection {{dashboard}} {{from}} – {{to}}\r\nBcc: x', m), 'Inspection Node 2026-12-06 09:00 – 2026-12-07 09:00 Bcc: x');
});

describe('delivery (a real SMTP server and webhook receiver on loopback, no Chrome)', () => {
  test('a report over MAIL_ATTACH_MAX_BYTES is linked, not attached; a webhook off WEBHOOK_ALLOW is never called', async () => {
    const dir = tmp('ps-deliver-');
    const pki = makePki(dir);
    const smtp = await startSmtp(pki, 'u', 'mail-pass-Lk22');
    const hook = await startHookReceiver();
    try {
      const c = loadConfig({
        GRAFANA_URL: 'http://grafana:3000/',
        SMTP_URL: `smtp://u:mail-pass-Lk22@127.0.0.1:${smtp.port}`,
        SMTP_FROM: 'ps@example.com',
        SMTP_CA_FILE: pki.ca,
        MAIL_ATTACH_MAX_BYTES: '1000',
        WEBHOOK_ALLOW: 'chat.example.com',
        LINK_SECRET: 'link-secret-of-some-length',
        PUBLIC_URL: 'https://r.example.com/renderer',
        DELIVERY_RETRIES: '1',
        DELIVERY_BACKOFF_MS: '50',
      });
      const runDir = path.join(dir, 'run');
      fs.mkdirSync(path.join(runDir, '01-node'), { recursive: true });
      fs.writeFileSync(path.join(runDir, '01-node', 'report.pdf'), Buffer.alloc(5000, 1));
      const m = {
        job: 'j', run: '2026-12-07T0100Z', trigger: 'schedule', scheduledAt: '', startedAt: '', finishedAt: '', ms: 1, timezone: 'UTC', outcome: 'ok', errors: [],
        range: { from: '2026-12-06T01:00:00.000Z', to: '2026-12-07T01:00:00.000Z', fromMs: 0, toMs: 0 },
        dashboards: [{ url: 'u', title: 'Node', report: { file: '01-node/report.pdf', bytes: 5000, ms: 1 }, panels: [] }],
        deliveries: [{ kind: 'email', target: 'ops@example.com', outcome: 'pending', attempts: 0 }, { kind: 'webhook', target: 'chat.example.com', outcome: 'pending', attempts: 0 }],
      } as unknown as Manifest;
      // The job was valid when read; WEBHOOK_ALLOW no longer has the receiver's host.
      const job = { deliver: { email: { to: ['ops@example.com'], subject: '{{job}} {{outcome}}' }, webhook: { url: new URL(hook.url) } } } as unknown as Job;
      const { lines, logger } = logSink();
      await deliver({ config: c, logger }, job, m, runDir);
      assert.deepEqual(m.deliveries.map((x) => [x.kind, x.outcome, x.attempts]), [['email', 'delivered', 1], ['webhook', 'failed', 2]]);
      assert.match(m.deliveries[1]!.error!, /not in WEBHOOK_ALLOW/);
      assert.equal(hook.bodies.length, 0, 'the receiver was never called');
      const [got] = smtp.mails;
      assert.equal(got!.mail.subject, 'j ok');
      assert.equal(got!.mail.attachments.length, 0);
      const link = /Report Node \(5 KiB, too large to attach\): (\S+)/.exec(got!.mail.text!)?.[1];
      assert.ok(link, got!.mail.text);
      const u = new URL(link);
      assert.equal(u.pathname, '/renderer/archive/j/2026-12-07T0100Z/01-node/report.pdf');
      verifyArchiveLink('j/2026-12-07T0100Z/01-node/report.pdf', u.searchParams.get('exp')!, u.searchParams.get('sig')!, ['link-secret-of-some-length'], c.linkMaxTtlS);
      assert.ok(!lines.join('\n').includes('mail-pass-Lk22'));
    } finally {
      await smtp.close();
      await hook.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
