// Expanding a dashboard model into panel jobs (pure: no Chrome): repeated rows, query
// variables saved without options, and the MAX_PANELS stop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expandPanels } from '../src/grafana/dashboards';

const G = new URL('http://grafana.test/sub/');
const model = {
  panels: [
    { id: 1, type: 'row', title: 'Per $dc', repeat: 'dc', gridPos: { x: 0, y: 0 } },
    { id: 2, type: 'stat', title: 'Load in $dc', gridPos: { x: 0, y: 1 } },
    { id: 3, type: 'row', title: 'Query', gridPos: { x: 0, y: 9 } },
    { id: 4, type: 'timeseries', title: '${node}', repeat: 'node', gridPos: { x: 0, y: 10 } },
  ],
  templating: {
    list: [
      { name: 'dc', current: { value: ['$__all'] }, options: [{ value: '$__all' }, { value: 'fra' }, { value: 'ams' }] },
      { name: 'node', current: { value: '$__all' }, options: [] },
    ],
  },
};

test('a repeated row repeats its panels per value; a query variable without saved options gives one copy', () => {
  const jobs = expandPanels(model, new URL('http://grafana.test/sub/d/u1/s?orgId=2&from=now-1h&viewPanel=9'), G, 'u1', 's', 100);
  assert.deepEqual(jobs.map((j) => [j.key, j.title]), [
    ['panel-2-fra', 'Load in fra'],
    ['panel-2-ams', 'Load in ams'],
    ['panel-4', '${node}'],
  ]);
  const u = jobs[1]!.url;
  assert.equal(u.pathname, '/sub/d-solo/u1/s');
  assert.equal(u.searchParams.get('var-dc'), 'ams');
  assert.equal(u.searchParams.get('orgId'), '2');
  assert.equal(u.searchParams.get('panelId'), '2');
  assert.equal(u.searchParams.get('viewPanel'), null);
});

test('more panels than MAX_PANELS stop the expansion with a 400', () => {
  assert.throws(() => expandPanels(model, new URL('http://grafana.test/sub/d/u1/s'), G, 'u1', 's', 2), /MAX_PANELS=2/);
});
