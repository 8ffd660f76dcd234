/**
 * The stand-in's CSV export page, `/d-csv/<uid>?panelId=…`: like Grafana's table export it
 * first loads the panel's data through the query API (same auth as every page, so
 * renderKey, session and token matter), then makes the browser download it as a CSV from
 * a Blob through `<a download="<Panel title>-data-<date>.csv">`.
 *
 * Variants for tests (query parameters):
 * - `csv=never`: loads the data and never downloads;
 * - `csv=huge&csvBytes=N`: downloads about N bytes of rows;
 * - `csv=hostile`: suggests a file name with `../`, quotes, a newline and non-ASCII letters;
 * - `csvDelay=MS`: downloads MS after the data arrived;
 * - `csvThen=MS`: downloads a second file ("LEFTOVER") MS after the first;
 * - `dataDelay=MS`: the query answers after MS.
 */

export interface CsvPageConfig {
  panelId: string;
  mode: 'normal' | 'never' | 'huge' | 'hostile';
  bytes: number;
  delay: number;
  then: number | null;
  dataDelay: number | null;
}

export function csvPageConfig(q: URLSearchParams, clampMs: (v: unknown, fallback: number) => number): CsvPageConfig {
  const mode = q.get('csv');
  return {
    panelId: q.get('panelId') || '1',
    mode: mode === 'never' || mode === 'huge' || mode === 'hostile' ? mode : 'normal',
    bytes: Math.min(Number(q.get('csvBytes')) || 1_000_000, 200_000_000),
    delay: clampMs(q.get('csvDelay'), 0),
    then: q.has('csvThen') ? clampMs(q.get('csvThen'), 0) : null,
    dataDelay: q.has('dataDelay') ? clampMs(q.get('dataDelay'), 0) : null,
  };
}

/** The file name a hostile page suggests. */
export const HOSTILE_NAME = '../../etc/"evil"\r\nX-Injected: 1 Größe.csv';

export function csvPage(cfg: CsvPageConfig): string {
  const json = JSON.stringify({ ...cfg, hostileName: HOSTILE_NAME }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Panel ${Number(cfg.panelId) || 1} - Inspect - Grafana</title>
<style>html,body{margin:0;background:#111217;color:#ccccdc;font:14px/1.4 Helvetica,Arial,sans-serif}</style></head>
<body><p class="status">Loading data…</p>
<script id="csv-config" type="application/json">${json}</script>
<script>${CSV_CLIENT_JS}</script>
</body></html>`;
}

/** Grafana's CSV: quoted header, ISO times, one row per point, CRLF; the data is the query's. */
const CSV_CLIENT_JS = String.raw`
(function () {
  'use strict';
  var cfg = JSON.parse(document.getElementById('csv-config').textContent);
  var status = document.querySelector('.status');
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function stamp(d) {
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + '_' + pad(d.getMinutes()) + '_' + pad(d.getSeconds());
  }
  function toCsv(frame) {
    var times = frame.data.values[0], values = frame.data.values[1];
    var lines = ['"' + frame.schema.fields[0].name + '","' + frame.schema.fields[1].name + '"'];
    for (var i = 0; i < times.length; i++) lines.push(new Date(times[i]).toISOString() + ',' + values[i]);
    return lines.join('\r\n') + '\r\n';
  }
  function download(text, name) {
    var blob = new Blob([text], { type: 'text/csv;charset=utf-8' });
    var a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }
  var req = { panelId: cfg.panelId };
  if (cfg.dataDelay !== null) req.dataDelay = cfg.dataDelay;
  fetch('/api/ds/query', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'content-type': 'application/json' }, body: JSON.stringify(req)
  }).then(function (r) {
    if (!r.ok) throw new Error(r.status === 401 ? 'Unauthorized' : 'Query failed: ' + r.status);
    return r.json();
  }).then(function (res) {
    var frame = res.results.A.frames[0];
    var csv = toCsv(frame);
    status.textContent = 'Data loaded: ' + frame.data.values[0].length + ' rows';
    if (cfg.mode === 'never') return;
    if (cfg.mode === 'huge') {
      var rows = csv.split('\r\n').slice(1).join('\r\n'), parts = [csv], size = csv.length;
      while (size < cfg.bytes) { parts.push(rows); size += rows.length; }
      csv = parts.join('');
    }
    var name = cfg.mode === 'hostile' ? cfg.hostileName : 'Panel ' + cfg.panelId + '-data-' + stamp(new Date()) + '.csv';
    setTimeout(function () {
      download(csv, name);
      if (cfg.then !== null) setTimeout(function () { download('LEFTOVER\r\n', 'leftover.csv'); }, cfg.then);
    }, cfg.delay);
  }).catch(function (err) {
    status.textContent = String(err && err.message || err);
  });
})();
`;
