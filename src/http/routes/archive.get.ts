// GET /archive[/<job>[/<run>[/<file>]]] — the archive of scheduled runs: lists of jobs and
// runs (HTML for a browser, JSON otherwise) and the archived files themselves. Asks for an
// AUTH_TOKEN value like /render (X-Auth-Token, or HTTP Basic auth with the token as password
// so a browser can browse); a file also opens with a signed link from a delivery
// (?exp=…&sig=…, LINK_SECRET), which is good for that one file until it expires.
import fs from 'node:fs';
import path from 'node:path';
import type { Request, RequestHandler, Response } from 'express';
import type { Config } from '../../config';
import { notFound, unauthorized } from '../../errors';
import { verifyArchiveLink } from '../../links/archive';
import type { Archive } from '../../schedule/archive';
import { runTime } from '../../schedule/archive';
import { tokenMatcher } from '../authToken';

const JOB = /^[a-z0-9][a-z0-9-]{0,62}$/;
const FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function page(title: string, crumbs: string, head: string[], rows: string[][]): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1100px}h1{font-size:1.3em}table{border-collapse:collapse}
td,th{padding:3px 14px 3px 0;text-align:left;white-space:nowrap}th{color:#666}.ok{color:#070}.partial{color:#a60}.failed,.error{color:#b00}.num{text-align:right}</style></head>
<body><h1>${crumbs}</h1><table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n')}
</tbody></table></body></html>\n`;
}

function wantsHtml(req: Request): boolean {
  return (req.accepts(['json', 'html']) || 'json') === 'html';
}

export function archiveGet(d: { config: Config; archive?: Archive }): RequestHandler {
  const matches = tokenMatcher(d.config.authTokens);
  const base = `${d.config.basePath}/archive`;
  return (req, res: Response, next) => {
    // `/archive/job/` and `/archive/job` are the same listing.
    const parts = ((req.params as { rest?: string[] }).rest ?? []).filter((p, i, all) => p !== '' || i < all.length - 1);
    const [job, run, ...fileParts] = parts;
    // A signed link opens one file and nothing else.
    const exp = req.query.exp;
    const sig = req.query.sig;
    try {
      if (typeof exp === 'string' && typeof sig === 'string' && fileParts.length) {
        verifyArchiveLink(parts.join('/'), exp, sig, d.config.linkSecrets, d.config.linkMaxTtlS);
      } else {
        const basic = /^Basic\s+(.+)$/i.exec(req.header('authorization') ?? '');
        const password = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':').slice(1).join(':') : undefined;
        if (!matches(req.header('x-auth-token')) && !matches(password)) {
          if (wantsHtml(req)) res.set('WWW-Authenticate', 'Basic realm="panelshot archive", charset="UTF-8"');
          throw unauthorized();
        }
      }
      const archive = d.archive;
      if (!archive) throw notFound('there is no archive: set JOBS_FILE to schedule captures');
      if (job !== undefined && !JOB.test(job)) throw notFound('no such job in the archive');
      if (run !== undefined && !runTime(run)) throw notFound('no such run in the archive');
      if (fileParts.some((f) => !FILE.test(f)) || fileParts.length > 2) throw notFound('no such file in the archive');
      res.set('Cache-Control', 'no-store');

      if (job === undefined) {
        const jobs = archive.jobs().map((j) => {
          const runs = archive.runs(j);
          const newest = runs[0] && archive.manifest(j, runs[0].run);
          return { job: j, runs: runs.length, newest: runs[0]?.run ?? null, outcome: (newest?.outcome as string) ?? null };
        });
        if (!wantsHtml(req)) return void res.json({ jobs });
        return void res
          .type('html')
          .send(page('panelshot archive', 'Archive', ['job', 'runs', 'newest run', 'outcome'], jobs.map((j) => [`<a href="${base}/${j.job}/">${esc(j.job)}</a>`, String(j.runs), j.newest ? `<a href="${base}/${j.job}/${j.newest}/">${j.newest}</a>` : '–', `<span class="${esc(j.outcome ?? '')}">${esc(j.outcome ?? '–')}</span>`])));
      }
      if (run === undefined) {
        const runs = archive.runs(job).map((r) => {
          const m = archive.manifest(job, r.run) as { outcome?: string; trigger?: string; ms?: number; range?: { from?: string; to?: string }; errors?: string[]; dashboards?: { panels?: unknown[] }[] } | undefined;
          return { run: r.run, outcome: m?.outcome ?? null, trigger: m?.trigger ?? null, ms: m?.ms ?? null, range: m?.range ? { from: m.range.from, to: m.range.to } : null, panels: m?.dashboards?.reduce((n, x) => n + (x.panels?.length ?? 0), 0) ?? 0, errors: m?.errors?.length ?? 0 };
        });
        if (!runs.length && !fs.existsSync(path.join(archive.dir, job))) throw notFound('no such job in the archive');
        if (!wantsHtml(req)) return void res.json({ job, runs });
        return void res.type('html').send(
          page(`${job} — panelshot archive`, `<a href="${base}/">Archive</a> / ${esc(job)}`, ['run (UTC)', 'outcome', 'trigger', 'time range', 'panels', 'errors', 'took'], runs.map((r) => [
            `<a href="${base}/${job}/${r.run}/">${r.run}</a>`,
            `<span class="${esc(r.outcome ?? '')}">${esc(r.outcome ?? '?')}</span>`,
            esc(r.trigger ?? ''),
            esc(r.range ? `${String(r.range.from).slice(0, 16).replace('T', ' ')} – ${String(r.range.to).slice(0, 16).replace('T', ' ')}` : ''),
            `<span class="num">${r.panels}</span>`,
            `<span class="num">${r.errors}</span>`,
            r.ms === null ? '' : `${(r.ms / 1000).toFixed(1)} s`,
          ])),
        );
      }
      const runDir = path.join(archive.dir, job, run);
      if (!fs.existsSync(runDir)) throw notFound('no such run in the archive');
      if (!fileParts.length) {
        const files: { file: string; bytes: number }[] = [];
        for (const e of fs.readdirSync(runDir, { withFileTypes: true })) {
          if (e.name.startsWith('.')) continue;
          if (e.isDirectory()) for (const f of fs.readdirSync(path.join(runDir, e.name))) files.push({ file: `${e.name}/${f}`, bytes: fs.statSync(path.join(runDir, e.name, f)).size });
          else files.push({ file: e.name, bytes: fs.statSync(path.join(runDir, e.name)).size });
        }
        files.sort((a, b) => (a.file === 'manifest.json' ? -1 : b.file === 'manifest.json' ? 1 : a.file.localeCompare(b.file, 'en', { numeric: true })));
        if (!wantsHtml(req)) return void res.json({ job, run, files });
        return void res.type('html').send(page(`${job} ${run} — panelshot archive`, `<a href="${base}/">Archive</a> / <a href="${base}/${job}/">${esc(job)}</a> / ${run}`, ['file', 'bytes'], files.map((f) => [`<a href="${base}/${job}/${run}/${f.file}">${esc(f.file)}</a>`, `<span class="num">${f.bytes}</span>`])));
      }
      const rel = path.join(job, run, ...fileParts);
      // dotfiles: 'deny' keeps temporary files out; the name checks above keep us inside the run.
      res.sendFile(rel, { root: archive.dir, dotfiles: 'deny', headers: { 'X-Content-Type-Options': 'nosniff' } }, (err) => {
        if (err && !res.headersSent) next(notFound('no such file in the archive'));
      });
    } catch (e) {
      next(e);
    }
  };
}
