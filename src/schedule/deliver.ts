// Delivery of a finished run: an e-mail through SMTP_URL (nodemailer; STARTTLS required on
// smtp://) with the report attached up to MAIL_ATTACH_MAX_BYTES, and a webhook JSON POST to
// a WEBHOOK_ALLOW host. Both carry signed, expiring links to the archived files (when
// LINK_SECRET and PUBLIC_URL are set). A failed delivery is retried with doubling back-off;
// the run stays archived whatever happens here, and the manifest records each outcome.
import fs from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { signArchiveLink } from '../links/archive';
import type { Job } from './jobs';
import type { DeliveryRecord, Manifest } from './run';

export interface DeliverDeps {
  config: Config;
  logger: Logger;
  /** Waits between retries (tests shorten nothing here: DELIVERY_BACKOFF_MS does). */
  sleep?: (ms: number) => Promise<void>;
}

const sleepMs = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** Signed links to the run's files, by path below the run; empty without LINK_SECRET and PUBLIC_URL. */
export function runLinks(c: Config, m: Manifest, nowMs = Date.now()): { folder?: string; manifest?: string; reports: Record<string, string>; panels: Record<string, string> } {
  const out = { reports: {} as Record<string, string>, panels: {} as Record<string, string> };
  const secret = c.linkSecrets[0];
  if (!secret || !c.publicUrl) return out;
  const exp = Math.floor(nowMs / 1000) + c.linkMaxTtlS;
  const link = (file: string) => signArchiveLink(c.publicUrl!, `${m.job}/${m.run}/${file}`, secret, exp);
  for (const d of m.dashboards) {
    if (d.report?.file) out.reports[d.title ?? d.url] = link(d.report.file);
    for (const p of d.panels ?? []) if (p.file) out.panels[p.file] = link(p.file);
  }
  return { ...out, manifest: link('manifest.json') };
}

/** "{{job}}", "{{dashboard}}", "{{from}}", "{{to}}", "{{outcome}}" in a subject. */
export function fillTemplate(t: string, m: Manifest): string {
  const fmt = (iso: string) => (iso ? iso.slice(0, 16).replace('T', ' ') : '?');
  const values: Record<string, string> = {
    job: m.job,
    dashboard: m.dashboards.map((d) => d.title ?? d.uid ?? 'dashboard').join(', '),
    from: fmt(m.range.from),
    to: fmt(m.range.to),
    outcome: m.outcome,
    run: m.run,
  };
  return t.replace(/\{\{\s*(\w+)\s*\}\}/g, (all, k: string) => values[k] ?? all).replace(/[\r\n]+/g, ' ');
}

async function withRetries(d: DeliverDeps, rec: DeliveryRecord, send: () => Promise<void>, log: Logger): Promise<void> {
  const sleep = d.sleep ?? sleepMs;
  for (let attempt = 0; attempt <= d.config.deliveryRetries; attempt++) {
    rec.attempts = attempt + 1;
    try {
      await send();
      rec.outcome = 'delivered';
      delete rec.error;
      rec.at = new Date().toISOString();
      log.info({ event: 'delivery', kind: rec.kind, outcome: 'delivered', attempts: rec.attempts }, `${rec.kind} delivered`);
      return;
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
      rec.error = scrub(`${String((e as Error)?.message ?? e)}${cause ? ` (${cause.code ?? cause.message})` : ''}`, d.config).slice(0, 300);
      const last = attempt === d.config.deliveryRetries;
      const waitMs = d.config.deliveryBackoffMs * 2 ** attempt;
      log.warn({ event: 'delivery', kind: rec.kind, outcome: last ? 'failed' : 'retry', attempts: rec.attempts, err: rec.error, ...(last ? {} : { retryInMs: waitMs }) }, last ? `${rec.kind} delivery failed` : `${rec.kind} delivery failed, retrying`);
      if (last) break;
      await sleep(waitMs);
    }
  }
  rec.outcome = 'failed';
  rec.at = new Date().toISOString();
}

/** Error texts from mail and HTTP libraries can quote the URL: credentials never leave here. */
function scrub(s: string, c: Config): string {
  let out = s;
  if (c.smtpUrl) {
    try {
      const u = new URL(c.smtpUrl);
      for (const secret of [u.password, decodeURIComponent(u.password), u.username && `${u.username}:${u.password}`]) if (secret) out = out.split(secret).join('***');
    } catch {
      // SMTP_URL was checked at start.
    }
  }
  return out;
}

function mailTransport(c: Config) {
  const url = new URL(c.smtpUrl!);
  return nodemailer.createTransport({
    url: c.smtpUrl!,
    // smtp:// must upgrade with STARTTLS before it authenticates: a server that does not
    // offer it fails the delivery instead of receiving the password in the clear.
    requireTLS: url.protocol === 'smtp:',
    tls: c.smtpCaFile ? { ca: fs.readFileSync(c.smtpCaFile) } : undefined,
    connectionTimeout: 15_000,
    greetingTimeout: 15_000,
    socketTimeout: 60_000,
  });
}

/** Delivers `m` (its folder is `dir`) as `job` asks; updates `m.deliveries` in place. */
export async function deliver(d: DeliverDeps, job: Job, m: Manifest, dir: string): Promise<void> {
  const log = d.logger.child({ job: m.job, run: m.run });
  const links = runLinks(d.config, m);
  const tasks: Promise<void>[] = [];
  const email = job.deliver.email;
  const emailRec = m.deliveries.find((r) => r.kind === 'email');
  if (email && emailRec) {
    const reports = m.dashboards.filter((x) => x.report?.file).map((x) => ({ title: x.title ?? x.url, file: x.report!.file!, bytes: x.report!.bytes ?? 0 }));
    // Attach while the reports together fit; what does not fit is linked.
    let budget = d.config.mailAttachMaxBytes;
    const attach = reports.filter((r) => (r.bytes <= budget ? ((budget -= r.bytes), true) : false));
    const linked = reports.filter((r) => !attach.includes(r));
    const lines = [
      `${m.job}: ${m.outcome} — ${m.dashboards.map((x) => x.title ?? x.url).join(', ')}`,
      `Time range: ${m.range.from} – ${m.range.to} (${m.timezone})`,
      `Run: ${m.run} (${m.trigger}), ${m.dashboards.reduce((n, x) => n + (x.panels?.length ?? 0), 0)} panels`,
      ...m.errors.map((e) => `Error: ${e}`),
      '',
      ...attach.map((r) => `Attached: ${path.basename(r.file)} — ${r.title}`),
      ...linked.map((r) => `Report ${r.title} (${Math.round(r.bytes / 1024)} KiB, too large to attach): ${links.reports[r.title] ?? 'no link: set LINK_SECRET and PUBLIC_URL'}`),
      ...Object.entries(links.reports).filter(([t]) => !linked.some((r) => r.title === t)).map(([t, l]) => `Report ${t}: ${l}`),
      ...(links.manifest ? [`Manifest: ${links.manifest}`, `Links expire ${new Date(Date.now() + d.config.linkMaxTtlS * 1000).toISOString()}.`] : []),
    ];
    const transport = mailTransport(d.config);
    tasks.push(
      withRetries(
        d,
        emailRec,
        async () => {
          await transport.sendMail({
            from: d.config.smtpFrom,
            to: email.to,
            subject: fillTemplate(email.subject, m),
            text: `${lines.join('\n')}\n`,
            attachments: attach.map((r) => ({ filename: `${m.job}-${m.run}-${path.dirname(r.file).replace(/^\d+-/, '')}.pdf`, path: path.join(dir, r.file), contentType: 'application/pdf' })),
          });
        },
        log,
      ).finally(() => transport.close()),
    );
  }
  const hook = job.deliver.webhook;
  const hookRec = m.deliveries.find((r) => r.kind === 'webhook');
  if (hook && hookRec) {
    const body = JSON.stringify({
      job: m.job,
      run: m.run,
      trigger: m.trigger,
      outcome: m.outcome,
      scheduledAt: m.scheduledAt,
      range: m.range,
      timezone: m.timezone,
      errors: m.errors,
      dashboards: m.dashboards.map((x) => ({ title: x.title, uid: x.uid, version: x.version, panels: x.panels?.length ?? 0, failed: x.panels?.filter((p) => p.error).length ?? 0, error: x.error })),
      links,
    });
    tasks.push(
      withRetries(
        d,
        hookRec,
        async () => {
          // Checked again here: the jobs file was checked against WEBHOOK_ALLOW when read.
          if (!d.config.webhookAllow.includes(hook.url.host.toLowerCase()) && !d.config.webhookAllow.includes(hook.url.hostname.toLowerCase())) throw new Error(`host ${hook.url.host} is not in WEBHOOK_ALLOW`);
          // No redirects: they could lead anywhere, past WEBHOOK_ALLOW.
          const res = await fetch(hook.url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'User-Agent': 'panelshot' }, body, redirect: 'manual', signal: AbortSignal.timeout(15_000) });
          await res.arrayBuffer().catch(() => undefined);
          if (res.status < 200 || res.status >= 300) throw new Error(`the webhook answered ${res.status}`);
        },
        log,
      ),
    );
  }
  await Promise.all(tasks);
}
