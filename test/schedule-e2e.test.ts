// Scheduled captures end to end: a job every few seconds against the Grafana stand-in with a
// real Chrome, a real SMTP server on loopback (smtp-server: STARTTLS with a throwaway CA,
// AUTH required, which it only offers after STARTTLS) whose message is parsed back with
// mailparser, and a webhook receiver on loopback. Then the faults: the mail server gone
// (retried, recorded, archive kept), a full disk (a small tmpfs: nothing partial left),
// Grafana gone (the run recorded as failed with its cause), SIGKILL in the middle of a run
// (the next start cleans up). Secrets are looked for in logs, manifests and the status page.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { freePort } from '../src/browser/driver';
import type { ScheduledRun } from '../src/schedule';
import type { Manifest } from '../src/schedule/run';
import { makePki, startHookReceiver, startSmtp } from './support/mail';
import { pdfInfo } from './support/pdf';
import { spawnService, waitForAsync } from './support/service';
import { startStack, type Stack } from './support/stack';

const SMTP_USER = 'panelshot';
const SMTP_PASS = 'smtp-pass-Zq81xK';
import { DASHBOARD_VERSION } from './standin/dashboards';
import { startStandin } from './standin/grafana';

const TOKEN = 'auth-token-Hq27vP';
const LINK_SECRET = 'link-secret-Pw93mT-0123456789';

function jobsYaml(grafana: string, hook: string, schedule: string): string {
  return `jobs:
  - name: ops-inspection
    schedule: "${schedule}"
    timezone: Asia/Shanghai
    dashboards:
      - url: ${grafana}/d/sched/ops?orgId=1
        from: now-24h
        to: now
    output: [report, panels]
    width: 500
    height: 300
    keep: 3
    deliver:
      email: { to: [ops@example.com], subject: "Inspection {{dashboard}} {{from}} – {{to}}" }
      webhook: { url: "${hook}" }
`;
}

describe('scheduled captures against the stand-in', () => {
  let st: Stack;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let hook: Awaited<ReturnType<typeof startHookReceiver>>;
  let work: string;
  let archiveDir: string;
  let jobsFile: string;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-sched-'));
    // The archive on a small tmpfs of its own, so the full-disk test can fill it.
    archiveDir = path.join(work, 'archive');
    fs.mkdirSync(archiveDir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', archiveDir]);
    const pki = makePki(work);
    smtp = await startSmtp(pki, SMTP_USER, SMTP_PASS);
    hook = await startHookReceiver();
    const port = await freePort();
    jobsFile = path.join(work, 'jobs.yaml');
    st = await startStack(
      {
        HTTP_PORT: String(port),
        POOL_SIZE: '2',
        AUTH_TOKEN: TOKEN,
        LINK_SECRET,
        PUBLIC_URL: `http://127.0.0.1:${port}`,
        ARCHIVE_DIR: archiveDir,
        SMTP_URL: `smtp://${SMTP_USER}:${SMTP_PASS}@127.0.0.1:${smtp.port}`,
        SMTP_FROM: 'panelshot <panelshot@example.com>',
        SMTP_CA_FILE: pki.ca,
        WEBHOOK_ALLOW: new URL(hook.url).host,
        DELIVERY_RETRIES: '2',
        DELIVERY_BACKOFF_MS: '200',
      },
      {},
      {
        // The jobs name the stand-in's dashboards: written once its URL is known.
        envOf: (g) => {
          fs.writeFileSync(jobsFile, jobsYaml(g.url, hook.url, '*/4 * * * * *'));
          return { JOBS_FILE: jobsFile };
        },
      },
    );
  });
  after(async () => {
    await st?.stop();
    await smtp?.close();
    await hook?.close();
    if (archiveDir) spawnUmount(archiveDir);
    fs.rmSync(work, { recursive: true, force: true });
  });

  test('a job every 4 s: a dated run folder with report, panels and manifest, an e-mail with the PDF, a webhook with links', async () => {
    const jobDir = path.join(archiveDir, 'ops-inspection');
    // Fair to alerts (ADR 7): while a run renders, a single /render finds a free session.
    assert.ok(await waitForAsync(async () => st.s.scheduling!.scheduler.status()[0]!.running && st.s.pool.stats().busy > 0, 30_000), 'a run is rendering');
    const alert = await fetch(`${st.s.url}/render?${new URLSearchParams({ url: `${st.g.url}/d-solo/alerting/x?panelId=1`, width: '400', height: '200' })}`, { headers: { 'X-Auth-Token': TOKEN } });
    assert.equal(alert.status, 200);
    const queueMs = Number(/queue;dur=(\d+)/.exec(alert.headers.get('server-timing') ?? '')?.[1]);
    assert.ok(queueMs < 500, `an alert's render waited ${queueMs} ms for Chrome behind the scheduled run`);
    assert.ok(await waitForAsync(async () => fs.existsSync(jobDir) && fs.readdirSync(jobDir).some((e) => /^\d{4}-\d\d-\d\dT\d{4,6}Z$/.test(e)), 60_000), 'a run was archived');
    const run = st.s.scheduling!.archive.runs('ops-inspection').at(-1)!.run;
    const dir = path.join(jobDir, run);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(manifest.job, 'ops-inspection');
    assert.equal(manifest.trigger, 'schedule');
    assert.equal(manifest.outcome, 'ok', JSON.stringify(manifest.errors));
    assert.equal(manifest.timezone, 'Asia/Shanghai');
    // The folder is the occurrence in UTC, on a 4-second boundary of the schedule.
    const at = new Date(manifest.scheduledAt);
    assert.equal(at.getUTCSeconds() % 4, 0);
    assert.equal(run, `${manifest.scheduledAt.slice(0, 10)}T${manifest.scheduledAt.slice(11, 13)}${manifest.scheduledAt.slice(14, 16)}${at.getUTCSeconds() ? manifest.scheduledAt.slice(17, 19) : ''}Z`);
    // An absolute range of 24 h, ending when the run started, in the job's zone (+08:00).
    assert.equal(manifest.range.toMs - manifest.range.fromMs, 24 * 3600_000);
    assert.ok(Math.abs(manifest.range.toMs - Date.parse(manifest.startedAt)) < 2000);
    assert.match(manifest.range.from, /\+08:00$/);
    const [dash] = manifest.dashboards;
    assert.equal(dash!.title, 'Dashboard sched');
    assert.equal(dash!.version, DASHBOARD_VERSION);
    // The report: a real PDF; the panels: the stand-in's 4, each a PNG of the job's size.
    assert.ok(dash!.report?.file);
    const pdf = fs.readFileSync(path.join(dir, dash!.report!.file!));
    assert.ok(pdfInfo(pdf).pages >= 1);
    assert.equal(dash!.panels!.length, 4);
    for (const p of dash!.panels!) {
      assert.equal(p.error, null);
      const m = await sharp(path.join(dir, p.file!)).metadata();
      assert.deepEqual([m.format, m.width, m.height], ['png', 500, 300]);
    }
    // The browser was asked for exactly the manifest's range.
    const load = st.g.stats.pageLoads.filter((l) => l.path.startsWith('/d-solo/sched')).at(-1)!;
    const q = new URLSearchParams(load.search);
    assert.deepEqual([Number(q.get('from')), Number(q.get('to'))], [manifest.range.fromMs, manifest.range.toMs]);
    assert.deepEqual(fs.readdirSync(path.join(archiveDir, '.partial')).filter((e) => e.startsWith(`ops-inspection.${run}.`)), [], 'nothing of this run is left beside the archive');

    // Deliveries: the manifest records them once done.
    assert.ok(await waitForAsync(async () => (JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest).deliveries.every((x) => x.outcome !== 'pending'), 20_000));
    const done = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
    assert.deepEqual(done.deliveries.map((x) => [x.kind, x.outcome, x.attempts]), [['email', 'delivered', 1], ['webhook', 'delivered', 1]]);

    const received = smtp.mails.find((m) => m.mail.subject?.includes('Dashboard sched') && m.mail.text?.includes(run));
    assert.ok(received, `the mail for ${run} arrived`);
    assert.equal(received.secured, true, 'over STARTTLS');
    assert.equal(received.user, SMTP_USER, 'authenticated');
    assert.equal(received.mail.subject, `Inspection Dashboard sched ${manifest.range.from.slice(0, 16).replace('T', ' ')} – ${manifest.range.to.slice(0, 16).replace('T', ' ')}`);
    const [attachment] = received.mail.attachments;
    assert.equal(attachment?.contentType, 'application/pdf');
    assert.ok(attachment!.content.equals(pdf), 'the attachment is the archived report');
    const manifestLink = /Manifest: (\S+)/.exec(received.mail.text!)![1]!;
    const viaLink = await fetch(manifestLink);
    assert.equal(viaLink.status, 200, 'a signed link opens without a token');
    assert.equal(((await viaLink.json()) as Manifest).run, run);

    const body = hook.bodies.find((b) => b.run === run) as { outcome: string; links: { reports: Record<string, string>; panels: Record<string, string> }; range: { fromMs: number } } | undefined;
    assert.ok(body, 'the webhook got the run');
    assert.equal(body.outcome, 'ok');
    assert.equal(body.range.fromMs, manifest.range.fromMs);
    const reportLink = body.links.reports['Dashboard sched']!;
    const viaHook = await fetch(reportLink);
    assert.equal(viaHook.status, 200);
    assert.ok(Buffer.from(await viaHook.arrayBuffer()).equals(pdf));
    assert.equal(Object.keys(body.links.panels).length, 4);
    // A link is good for its file only, and not once changed.
    const other = new URL(reportLink);
    other.pathname = other.pathname.replace(/report\.pdf$/, 'panel-1.png');
    assert.equal((await fetch(other)).status, 403);
    const forged = new URL(reportLink);
    forged.searchParams.set('exp', String(Number(forged.searchParams.get('exp')) + 1));
    assert.equal((await fetch(forged)).status, 403);
  });

  test('GET /archive: the token as /render, lists of jobs, runs and files, and the files', async () => {
    const base = st.s.url;
    const auth = { 'X-Auth-Token': TOKEN };
    assert.equal((await fetch(`${base}/archive`)).status, 401);
    assert.equal((await fetch(`${base}/archive`, { headers: { 'X-Auth-Token': 'wrong' } })).status, 401);
    const jobs = (await (await fetch(`${base}/archive`, { headers: auth })).json()) as { jobs: { job: string; runs: number }[] };
    assert.equal(jobs.jobs[0]!.job, 'ops-inspection');
    const runs = (await (await fetch(`${base}/archive/ops-inspection`, { headers: auth })).json()) as { runs: { run: string; outcome: string; panels: number }[] };
    // The newest run: the scheduler may be pruning the oldest (keep: 3) meanwhile.
    const newest = runs.runs[0]!;
    assert.deepEqual([newest.outcome, newest.panels], ['ok', 4]);
    const first = newest;
    const files = (await (await fetch(`${base}/archive/ops-inspection/${first.run}/`, { headers: auth })).json()) as { files: { file: string }[] };
    assert.deepEqual(files.files.map((f) => f.file), ['manifest.json', '01-dashboard-sched/panel-1.png', '01-dashboard-sched/panel-2.png', '01-dashboard-sched/panel-3.png', '01-dashboard-sched/panel-4.png', '01-dashboard-sched/report.pdf']);
    const png = await fetch(`${base}/archive/ops-inspection/${first.run}/01-dashboard-sched/panel-2.png`, { headers: auth });
    assert.equal(png.headers.get('content-type'), 'image/png');
    // A browser: Basic auth with the token, and HTML.
    const html = await fetch(`${base}/archive/ops-inspection/`, { headers: { Authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`, Accept: 'text/html' } });
    assert.equal(html.status, 200);
    assert.match(await html.text(), new RegExp(`href="/archive/ops-inspection/${first.run}/"`));
    for (const bad of ['/archive/../../etc/passwd', '/archive/ops-inspection/..%2f..%2fetc', '/archive/ops-inspection/2026-12-07T0100Z/%2e%2e/x', '/archive/.partial/x', '/archive/ops-inspection/.x.lock']) {
      const res = await fetch(`${base}${bad}`, { headers: auth });
      assert.equal(res.status, 404, bad);
      assert.equal(((await res.json()) as { code: string }).code, 'not_found');
    }
  });

  test('the status page shows next run and last outcome; a reloaded file applies', async () => {
    const status = (await (await fetch(`${st.s.url}/status.json`)).json()) as { jobs: { name: string; next: string; last?: { outcome: string } }[] };
    const job = status.jobs[0]!;
    assert.equal(job.name, 'ops-inspection');
    assert.ok(Date.parse(job.next) - Date.now() < 10_000);
    assert.ok(['ok', 'partial'].includes(job.last!.outcome));
    // From here on the clock is out of the way: a schedule for New Year (what SIGHUP does).
    fs.writeFileSync(jobsFile, jobsYaml(st.g.url, hook.url, '0 0 1 1 *'));
    st.s.scheduling!.reload();
    const after = (await (await fetch(`${st.s.url}/status.json`)).json()) as { jobs: { next: string }[] };
    assert.match(after.jobs[0]!.next, /-12-31T16:00:00\.000Z$/, 'midnight in Shanghai');
    // A broken file on reload keeps the jobs in force.
    fs.writeFileSync(jobsFile, 'jobs: [ {name: x');
    st.s.scheduling!.reload();
    assert.ok(st.logs.some((l) => /"event":"jobs_reload_failed"/.test(l)));
    assert.equal(st.s.scheduling!.scheduler.status()[0]!.name, 'ops-inspection');
    // Runs still going from the 4-s schedule finish before the fault tests.
    assert.ok(await waitForAsync(async () => !st.s.scheduling!.scheduler.status()[0]!.running, 60_000));
    await st.s.scheduling!.deliveries();
    // keep: 3
    assert.ok(st.s.scheduling!.archive.runs('ops-inspection').length <= 3);
  });

  test('the mail server down: retried with back-off and recorded, the run archived all the same', async () => {
    await smtp.close();
    const r = (await st.s.scheduling!.scheduler.runNow('ops-inspection')) as ScheduledRun;
    assert.equal(r.manifest.trigger, 'manual');
    await r.delivered;
    const m = JSON.parse(fs.readFileSync(path.join(r.dir, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(m.outcome, 'ok');
    const mail = m.deliveries.find((x) => x.kind === 'email')!;
    assert.equal(mail.outcome, 'failed');
    assert.equal(mail.attempts, 3, 'DELIVERY_RETRIES=2: three tries');
    assert.match(mail.error!, /ECONNREFUSED/);
    assert.equal(m.deliveries.find((x) => x.kind === 'webhook')!.outcome, 'delivered');
    assert.ok(fs.existsSync(path.join(r.dir, m.dashboards[0]!.report!.file!)));
    assert.equal(st.logs.filter((l) => /"event":"delivery"/.test(l) && /"outcome":"retry"/.test(l) && /"kind":"email"/.test(l)).length >= 2, true);
  });

  test('a full disk: the run fails, nothing partial is left and no lock stays', async () => {
    const before = fs.readdirSync(path.join(archiveDir, 'ops-inspection')).sort();
    const { bavail, bsize } = fs.statfsSync(archiveDir);
    // Leave 48 KiB: the report (~100 KiB and more) cannot be written.
    const ballast = path.join(archiveDir, '.ballast');
    fs.writeFileSync(ballast, Buffer.alloc(Math.max(0, bavail * bsize - 48 * 1024)));
    try {
      await assert.rejects(st.s.scheduling!.scheduler.runNow('ops-inspection'), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC');
      assert.deepEqual(fs.readdirSync(path.join(archiveDir, 'ops-inspection')).sort(), before, 'no new run, no lock left');
      assert.deepEqual(fs.readdirSync(path.join(archiveDir, '.partial')), [], 'nothing staged left');
      assert.ok(st.logs.some((l) => /"event":"job_run_failed"/.test(l) && /ENOSPC/.test(l)));
      assert.equal(st.s.scheduling!.scheduler.status()[0]!.last!.outcome, 'error');
    } finally {
      fs.rmSync(ballast);
    }
  });

  test('Grafana down: the run is archived as failed with its cause', async () => {
    await st.g.close();
    const r = (await st.s.scheduling!.scheduler.runNow('ops-inspection')) as ScheduledRun;
    await r.delivered;
    assert.equal(r.manifest.outcome, 'failed');
    assert.match(r.manifest.errors[0]!, /cannot reach Grafana at http:\/\/127\.0\.0\.1:\d+ \((ECONNREFUSED|ECONNRESET)\)/);
    assert.match(r.manifest.dashboards[0]!.error!, /cannot reach Grafana/);
    assert.ok(fs.existsSync(path.join(r.dir, 'manifest.json')));
    // The webhook tells the failure too.
    assert.ok(hook.bodies.some((b) => b.run === r.manifest.run && b.outcome === 'failed'));
    const status = (await (await fetch(`${st.s.url}/status.json`)).json()) as { jobs: { last: { outcome: string } }[] };
    assert.equal(status.jobs[0]!.last.outcome, 'failed');
  });

  test('no secret in the log, the manifests or the status page', async () => {
    const status = await (await fetch(`${st.s.url}/status.json`)).text();
    const manifests = fs
      .readdirSync(path.join(archiveDir, 'ops-inspection'))
      .filter((e) => !e.startsWith('.'))
      .map((r) => fs.readFileSync(path.join(archiveDir, 'ops-inspection', r, 'manifest.json'), 'utf8'));
    assert.ok(manifests.length >= 2);
    for (const secret of [SMTP_PASS, TOKEN, LINK_SECRET, encodeURIComponent(SMTP_PASS)]) {
      for (const [where, text] of [['log', st.logs.join('\n')], ['status', status], ['manifests', manifests.join('\n')]] as const) assert.ok(!text.includes(secret), `${where} holds a secret`);
    }
    // Nor the webhook's path (it often is the webhook's secret).
    assert.ok(!manifests.join('\n').includes('/hooks/abc'));
  });
});

function spawnUmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    // Already gone.
  }
}

describe('SIGKILL in the middle of a run, then SIGHUP and the jobs CLI', () => {
  test('no partial run is visible, and the next start removes what was left', async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ps-kill-'));
    const archiveDir = path.join(work, 'archive');
    const jobsFile = path.join(work, 'jobs.yaml');
    const g = await startStandin();
    const yaml = (schedule: string) => `jobs:\n  - name: killed\n    schedule: "${schedule}"\n    dashboards: [{ url: "${g.url}/d/killme/x" }]\n    output: [panels]\n`;
    fs.writeFileSync(jobsFile, yaml('* * * * * *'));
    let svc = await spawnService(g.url, undefined, { JOBS_FILE: jobsFile, ARCHIVE_DIR: archiveDir });
    try {
      const partial = path.join(archiveDir, '.partial');
      assert.ok(await waitForAsync(async () => fs.existsSync(partial) && fs.readdirSync(partial).length > 0, 30_000), 'a run started');
      svc.proc.kill('SIGKILL');
      await svc.exited;
      const jobDir = path.join(archiveDir, 'killed');
      assert.deepEqual(fs.readdirSync(jobDir).filter((e) => !e.startsWith('.')), [], 'no run is visible');
      assert.ok(fs.readdirSync(jobDir).some((e) => e.endsWith('.lock')), 'the dead run left its lock');
      assert.ok(fs.readdirSync(partial).length > 0, 'and its staged files');
      // The next start (a schedule far off, so no new run starts) cleans both.
      fs.writeFileSync(jobsFile, yaml('0 0 1 1 *'));
      svc = await spawnService(g.url, undefined, { JOBS_FILE: jobsFile, ARCHIVE_DIR: archiveDir });
      assert.deepEqual(fs.readdirSync(partial), []);
      assert.deepEqual(fs.readdirSync(jobDir), []);
      // SIGHUP (systemctl reload) reads the jobs file again.
      fs.writeFileSync(jobsFile, yaml('0 0 1 1 *') + yaml('0 12 * * *').replace('jobs:\n', '').replace('name: killed', 'name: added'));
      svc.proc.kill('SIGHUP');
      assert.ok(await waitForAsync(async () => ((await (await fetch(`${svc.url}/status.json`)).json()) as { jobs: { name: string }[] }).jobs.length === 2, 10_000), 'the added job is scheduled');
      // `panelshot jobs run`: the job now, in a process of its own; it prints the run folder.
      const env = { ...process.env, GRAFANA_URL: g.url, GRAFANA_USER: 'admin', GRAFANA_PASS: 'admin', JOBS_FILE: jobsFile, ARCHIVE_DIR: archiveDir, POOL_SIZE: '2', LOG_LEVEL: 'warn' };
      // Asynchronously: the stand-in answers from this very process.
      const cli = async (args: string[]) => (await promisify(execFile)(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, '../src/main.ts'), 'jobs', ...args], { env, encoding: 'utf8', timeout: 60_000 })).stdout;
      const folder = (await cli(['run', 'added'])).trim();
      assert.equal(path.dirname(folder), path.join(archiveDir, 'added'));
      const m = JSON.parse(fs.readFileSync(path.join(folder, 'manifest.json'), 'utf8')) as Manifest;
      assert.deepEqual([m.trigger, m.outcome, m.dashboards[0]!.panels!.length], ['manual', 'ok', 4]);
      assert.match(await cli(['list']), new RegExp(`^added\t0 12 \\* \\* \\*\tUTC\tnext \\S+\tlast ${path.basename(folder)} ok$`, 'm'));
    } finally {
      svc.proc.kill('SIGTERM');
      await svc.exited;
      await g.close();
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
