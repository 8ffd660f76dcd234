// GET / — the status page: the pool, the render cache, the last renders, and a form that
// renders a URL and shows the picture (and, with JOBS_FILE, each job's next run and last outcome) with its Server-Timing as a small bar chart. Plain
// HTML and a few lines of script, no build step; the numbers refresh from /status.json.
import type { RequestHandler } from 'express';

export function statusGet(basePath: string, version: string): RequestHandler {
  const html = page(basePath, version);
  return (_req, res) => {
    res.set({ 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Security-Policy': "default-src 'self'; img-src 'self' blob:; style-src 'unsafe-inline'; script-src 'unsafe-inline'" }).send(html);
  };
}

function page(basePath: string, version: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>panelshot</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1100px; }
h1 { font-size: 1.3em; margin: 0 0 .6em; } h2 { font-size: 1.05em; margin: 1.4em 0 .4em; }
table { border-collapse: collapse; } td, th { padding: 2px 10px 2px 0; text-align: left; white-space: nowrap; }
th { color: #666; font-weight: 600; } .num { text-align: right; } .bad { color: #b00; } .ok { color: #070; }
#pool td { padding-right: 1.8em; } #pool b { font-size: 1.4em; }
form input[name=url] { width: 36em; } img#shot { max-width: 100%; border: 1px solid #ccc; margin-top: .6em; display: none; }
.bar { display: flex; align-items: center; gap: .5em; } .bar span { display: inline-block; height: 10px; background: #3274d9; }
.page { max-width: 28em; overflow: hidden; text-overflow: ellipsis; color: #555; }
</style></head><body>
<h1>panelshot <small style="color:#888">${version}</small></h1>
<table id="pool"><tr><th>busy</th><th>idle</th><th>queued</th><th>sessions</th><th>Chrome memory</th><th>recycles</th><th>cache</th></tr>
<tr><td><b id="busy">–</b></td><td><b id="idle">–</b></td><td><b id="queued">–</b></td><td id="size">–</td><td id="memory">–</td><td id="recycles">–</td><td id="cache">–</td></tr></table>

<h2>Render a URL</h2>
<form id="try"><input name="url" placeholder="Grafana panel URL, e.g. …/d-solo/&lt;uid&gt;/&lt;slug&gt;?panelId=2" required>
<input name="width" value="1000" size="5" aria-label="width"> × <input name="height" value="500" size="5" aria-label="height">
<select name="encoding"><option>png</option><option>jpeg</option><option>webp</option></select>
<button type="submit">Render</button> <span id="state"></span></form>
<div id="timing"></div>
<img id="shot" alt="rendered panel">

<div id="jobsBox" hidden><h2>Scheduled captures</h2>
<table id="jobs"><thead><tr><th>job</th><th>schedule</th><th>timezone</th><th>next run (UTC)</th><th>last run</th><th>outcome</th></tr></thead><tbody></tbody></table></div>

<h2>Last renders</h2>
<table id="recent"><thead><tr><th>time</th><th>via</th><th>outcome</th><th>size</th><th>format</th><th class="num">bytes</th><th class="num">queue</th><th class="num">data</th><th class="num">stable</th><th class="num">total ms</th><th>page</th></tr></thead><tbody></tbody></table>
<script>
const base = ${JSON.stringify(basePath)};
const $ = (id) => document.getElementById(id);
const cell = (text, cls) => { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; return td; };
async function refresh() {
  const s = await (await fetch(base + '/status.json')).json();
  for (const k of ['busy', 'idle', 'queued', 'size']) $(k).textContent = s.pool[k];
  $('memory').textContent = s.chromeMemoryMiB + ' MiB';
  $('recycles').textContent = s.recycles;
  $('cache').textContent = s.cache ? s.cache.entries + ' images, ' + Math.round(s.cache.bytes / 1024) + ' KiB' : 'off';
  $('jobsBox').hidden = !s.jobs;
  document.querySelector('#jobs tbody').replaceChildren(...(s.jobs || []).map((j) => {
    const tr = document.createElement('tr'); const last = j.last || {};
    tr.append(cell(j.name), cell(j.schedule), cell(j.timezone), cell(j.next ? j.next.slice(0, 19).replace('T', ' ') : 'never'),
      cell(j.running ? 'running now' : (last.run || (last.at ? last.at.slice(0, 19).replace('T', ' ') : '–'))),
      cell(last.outcome ? last.outcome + (last.error ? ': ' + last.error : '') : '–', last.outcome === 'ok' ? 'ok' : last.outcome ? 'bad' : ''));
    return tr;
  }));
  const body = document.querySelector('#recent tbody');
  body.replaceChildren(...s.recent.map((r) => {
    const tr = document.createElement('tr'); const t = r.timings || {};
    tr.append(cell(r.at.slice(11, 19)), cell(r.via), cell(r.outcome + (r.cached ? ' (cache)' : ''), r.outcome === 'ok' ? 'ok' : 'bad'),
      cell(r.width + '×' + r.height), cell(r.format), cell(r.bytes ?? '', 'num'), cell(t.queueMs ?? '', 'num'), cell(t.dataMs ?? '', 'num'),
      cell(t.stableMs ?? '', 'num'), cell(t.totalMs ?? '', 'num'), cell(r.page, 'page'));
    return tr;
  }));
}
$('try').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const q = new URLSearchParams(new FormData(ev.target));
  $('state').textContent = 'rendering…'; $('timing').replaceChildren();
  const res = await fetch(base + '/status/render?' + q);
  if (!res.ok) { $('state').textContent = 'failed: ' + ((await res.json().catch(() => ({}))).error || res.status); $('state').className = 'bad'; return; }
  $('state').textContent = res.headers.get('content-type') + ', ' + res.headers.get('content-length') + ' bytes'; $('state').className = '';
  const phases = (res.headers.get('server-timing') || '').split(',').map((p) => p.trim().split(';dur=')).filter((p) => p.length === 2);
  const total = Math.max(1, ...phases.map((p) => +p[1]));
  $('timing').replaceChildren(...phases.map(([name, ms]) => {
    const row = document.createElement('div'); row.className = 'bar';
    const bar = document.createElement('span'); bar.style.width = Math.max(1, (300 * ms) / total) + 'px';
    row.append(Object.assign(document.createElement('code'), { textContent: name.padEnd(9, ' ') }), bar, ms + ' ms');
    return row;
  }));
  const img = $('shot'); img.src = URL.createObjectURL(await res.blob()); img.style.display = 'block';
  refresh();
});
refresh(); setInterval(refresh, 3000);
</script></body></html>
`;
}
