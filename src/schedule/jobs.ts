// The jobs file (JOBS_FILE, YAML): what the scheduler captures, when, and where it goes.
// It is read at start (an invalid file stops panelshot with exit 78 and one line naming the
// job and the field), on SIGHUP and by `panelshot jobs check`. Everything a run needs is
// checked here, so a morning run never finds out that its job could not have worked.
import fs from 'node:fs';
import { Cron } from 'croner';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError, isValidTimezone, type Config } from '../config';
import { parseDuration } from '../links/token';

export type Output = 'report' | 'panels';

export interface JobDashboard {
  url: URL;
  /** Grafana time syntax, resolved when the run starts, in the job's timezone. */
  from: string;
  to: string;
}

export interface Job {
  name: string;
  schedule: string;
  timezone: string;
  dashboards: JobDashboard[];
  output: Output[];
  width: number;
  height: number;
  /** Seconds per render (each panel, the report). */
  timeoutS: number;
  keep?: { days: number } | { count: number };
  deliver: {
    email?: { to: string[]; subject: string };
    webhook?: { url: URL };
  };
}

/** What the jobs file may hold beyond the issue's minimum; every key is checked, unknown ones refused. */
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const EMAIL = /^[^\s@<>,;"]+@[^\s@<>,;"]+\.[^\s@<>,;"]+$/;
const DEFAULT_SUBJECT = 'panelshot {{job}}: {{dashboard}} {{from}} – {{to}}';

/** The URL, or undefined: zod runs every refinement even after one failed. */
function urlOf(v: string): URL | undefined {
  try {
    return new URL(v);
  } catch {
    return undefined;
  }
}

function jobSchema(c: Pick<Config, 'grafanaUrl' | 'renderTimeoutS' | 'renderTimeoutMaxS' | 'maxWidth' | 'maxHeight'>, smtpReady: boolean, webhookAllow: string[]) {
  const httpUrl = z.string().refine((v) => {
    try {
      return /^https?:$/.test(new URL(v).protocol);
    } catch {
      return false;
    }
  }, 'must be an absolute http(s) URL');
  const dashboard = z.strictObject({
    url: httpUrl
      .refine((v) => urlOf(v)?.origin === c.grafanaUrl.origin, `must be on GRAFANA_URL's origin (${c.grafanaUrl.origin})`)
      .refine((v) => Boolean(urlOf(v)?.pathname.startsWith(`${c.grafanaUrl.pathname}d/`)), `must be a dashboard URL (${c.grafanaUrl.pathname}d/<uid>/<slug>)`),
    from: z.string().min(1).optional(),
    to: z.string().min(1).optional(),
  });
  return z.strictObject({
    name: z.string().regex(NAME, 'must be 1-63 characters of a-z, 0-9 and -, starting with a letter or digit'),
    schedule: z.string().refine((v) => {
      try {
        new Cron(v, { paused: true });
        return true;
      } catch {
        return false;
      }
    }, 'is not a cron expression (5 fields, or 6 with seconds first)'),
    timezone: z.string().refine(isValidTimezone, 'must be an IANA timezone such as Europe/Berlin').default('UTC'),
    dashboards: z.array(dashboard).min(1, 'must list at least one dashboard'),
    output: z.array(z.enum(['report', 'panels'], { message: 'must be report or panels' })).min(1).default(['report', 'panels']),
    width: z.number().int().min(16).max(c.maxWidth).default(1000),
    height: z.number().int().min(16).max(c.maxHeight).default(500),
    timeout: z.number().int().min(1).max(c.renderTimeoutMaxS).optional(),
    keep: z
      .union([z.number().int().min(1), z.string()])
      .refine((v) => typeof v === 'number' || /^\d{1,5}d$/.test(v) || /^\d{1,6}$/.test(v), 'must be a number of days such as 90d, or a count of runs such as 30')
      .optional(),
    deliver: z
      .strictObject({
        email: z
          .strictObject({
            to: z.array(z.string().regex(EMAIL, 'must be an e-mail address')).min(1, 'must name at least one address'),
            subject: z.string().max(300).optional(),
          })
          .refine(() => smtpReady, 'needs SMTP_URL and SMTP_FROM to be set')
          .optional(),
        webhook: z
          .strictObject({
            url: httpUrl.refine(
              (v) => webhookAllow.includes(urlOf(v)?.host.toLowerCase() ?? '') || webhookAllow.includes(urlOf(v)?.hostname.toLowerCase() ?? ''),
              `its host is not in WEBHOOK_ALLOW (${webhookAllow.join(', ') || 'empty'})`,
            ),
          })
          .optional(),
      })
      .default({}),
  });
}

export interface JobsContext {
  config: Pick<Config, 'grafanaUrl' | 'renderTimeoutS' | 'renderTimeoutMaxS' | 'maxWidth' | 'maxHeight' | 'smtpUrl' | 'smtpFrom' | 'webhookAllow'>;
}

/** The jobs in `text` (the file `file`), or a ConfigError with one line naming the job and the field. */
export function parseJobs(text: string, file: string, c: JobsContext['config']): Job[] {
  const fail = (what: string) => new ConfigError(`JOBS_FILE ${file}: ${what}`);
  let doc: unknown;
  try {
    doc = YAML.parse(text, { prettyErrors: false, uniqueKeys: true });
  } catch (e) {
    throw fail(`not valid YAML: ${String((e as Error).message).split('\n')[0]!.slice(0, 200)}`);
  }
  if (!doc || typeof doc !== 'object' || !Array.isArray((doc as { jobs?: unknown }).jobs)) throw fail('must hold `jobs:`, a list of jobs');
  const extra = Object.keys(doc).filter((k) => k !== 'jobs');
  if (extra.length) throw fail(`unknown top-level key ${extra[0]}`);
  const schema = jobSchema(c, Boolean(c.smtpUrl && c.smtpFrom), c.webhookAllow);
  const jobs: Job[] = [];
  const seen = new Set<string>();
  (doc as { jobs: unknown[] }).jobs.forEach((raw, i) => {
    const label = raw && typeof raw === 'object' && typeof (raw as { name?: unknown }).name === 'string' ? `job "${String((raw as { name: string }).name).slice(0, 63)}"` : `job #${i + 1}`;
    const r = schema.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0]!;
      const field = issue.path.length ? issue.path.join('.') : '(the job)';
      const msg = issue.code === 'unrecognized_keys' ? `unknown field ${(issue as { keys: string[] }).keys.join(', ')}` : issue.message;
      throw fail(`${label}: ${field}: ${msg}`);
    }
    const j = r.data;
    if (seen.has(j.name)) throw fail(`${label}: name: used by another job`);
    seen.add(j.name);
    const keep = j.keep === undefined ? undefined : typeof j.keep === 'string' && j.keep.endsWith('d') ? { days: parseDuration(j.keep)! / 86_400 } : { count: Number(j.keep) };
    jobs.push({
      name: j.name,
      schedule: j.schedule,
      timezone: j.timezone,
      dashboards: j.dashboards.map((d) => {
        const url = new URL(d.url);
        return { url, from: d.from ?? url.searchParams.get('from') ?? 'now-24h', to: d.to ?? url.searchParams.get('to') ?? 'now' };
      }),
      output: [...new Set(j.output)],
      width: j.width,
      height: j.height,
      timeoutS: j.timeout ?? Math.min(c.renderTimeoutMaxS, Math.max(c.renderTimeoutS, 60)),
      keep,
      deliver: {
        email: j.deliver.email && { to: j.deliver.email.to, subject: j.deliver.email.subject ?? DEFAULT_SUBJECT },
        webhook: j.deliver.webhook && { url: new URL(j.deliver.webhook.url) },
      },
    });
  });
  return jobs;
}

export function loadJobs(file: string, c: JobsContext['config']): Job[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`JOBS_FILE ${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseJobs(text, file, c);
}
