/**
 * Dashboard models of the Grafana stand-in, in the shape of Grafana's
 * `GET /api/dashboards/uid/<uid>` (see DESIGN.md §7): `dashboard.panels[]` with `id`,
 * `title`, `type`, `gridPos {x,y,w,h}` on a 24-column grid, row panels with `collapsed`
 * (a collapsed row lists its panels inside itself), a panel repeated by a template
 * variable (`repeat`), and `templating.list`.
 *
 * `ten` is a plain grid of 10 panels. `big` is the dashboard a report or a batch must get complete: 4 rows (one collapsed) and
 * 35 panels in the model; 31 panels are shown once the repeat for 3 hosts is expanded,
 * 37 with the collapsed row expanded too. `thirty` and `rows` are described where they are made. Any other uid gets the plain 4-panel dashboard the stand-in's
 * `/d/<uid>` page has always shown; uids starting with `missing` are 404.
 */

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface PanelModel {
  id: number;
  title: string;
  type: string;
  gridPos: GridPos;
  /** Row panels only. */
  collapsed?: boolean;
  /** Collapsed row panels only: the panels hidden inside the row. */
  panels?: PanelModel[];
  /** Repeated by this template variable (one copy per selected value). */
  repeat?: string;
  repeatDirection?: 'h' | 'v';
  maxPerRow?: number;
}

export interface DashboardModel {
  uid: string;
  title: string;
  panels: PanelModel[];
  templating: { list: { name: string; type: string; multi?: boolean; includeAll?: boolean; current: { text: string[] | string; value: string[] | string }; options: { text: string; value: string; selected: boolean }[] }[] };
  time: { from: string; to: string };
  timezone: string;
  /** Grafana counts each save; the API answers the saved version (scheduled runs record it). */
  version?: number;
}

export interface DashboardResponse {
  dashboard: DashboardModel;
  meta: { slug: string; url: string; folderTitle: string };
}

const TYPES = ['timeseries', 'stat', 'gauge', 'timeseries', 'bargauge', 'timeseries'];

/** The hosts the `host` variable offers (all selected by default). */
export const BIG_HOSTS = ['web-1', 'web-2', 'web-3'];

function slugify(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/** Panels of `count` on a grid of `perRow` columns, starting at grid row `y`. */
function gridOf(firstId: number, count: number, perRow: number, y: number, h: number, title: (id: number) => string): PanelModel[] {
  const w = 24 / perRow;
  return Array.from({ length: count }, (_, i) => {
    const id = firstId + i;
    return { id, title: title(id), type: TYPES[id % TYPES.length]!, gridPos: { x: (i % perRow) * w, y: y + Math.floor(i / perRow) * h, w, h } };
  });
}

function bigDashboard(): DashboardModel {
  const panels: PanelModel[] = [];
  // Row "Overview": 12 panels, 4 per row, 3 grid rows of height 6.
  panels.push({ id: 1, title: 'Overview', type: 'row', collapsed: false, gridPos: { x: 0, y: 0, w: 24, h: 1 } });
  panels.push(...gridOf(2, 12, 4, 1, 6, (id) => `Overview ${id - 1}`));
  // Row "Per host": one panel repeated horizontally for each selected host.
  panels.push({ id: 14, title: 'Per host', type: 'row', collapsed: false, gridPos: { x: 0, y: 19, w: 24, h: 1 } });
  panels.push({ id: 15, title: 'CPU on $host', type: 'timeseries', repeat: 'host', repeatDirection: 'h', maxPerRow: 3, gridPos: { x: 0, y: 20, w: 8, h: 8 } });
  // Row "Details": 16 panels, 2 per row, tall enough that they sit far below the first screen.
  panels.push({ id: 16, title: 'Details', type: 'row', collapsed: false, gridPos: { x: 0, y: 28, w: 24, h: 1 } });
  panels.push(...gridOf(17, 16, 2, 29, 8, (id) => `Detail ${id - 16}`));
  // Row "Archive": collapsed; its 6 panels live inside the row.
  panels.push({ id: 33, title: 'Archive', type: 'row', collapsed: true, gridPos: { x: 0, y: 93, w: 24, h: 1 }, panels: gridOf(34, 6, 3, 94, 7, (id) => `Archive ${id - 33}`) });
  return {
    uid: 'big',
    title: 'Big board',
    panels,
    templating: {
      list: [
        {
          name: 'host',
          type: 'custom',
          multi: true,
          includeAll: true,
          current: { text: ['All'], value: ['$__all'] },
          options: [{ text: 'All', value: '$__all', selected: true }, ...BIG_HOSTS.map((h) => ({ text: h, value: h, selected: false }))],
        },
      ],
    },
    time: { from: 'now-6h', to: 'now' },
    timezone: 'browser',
  };
}

/** `ten`: one row of 10 panels, 2 per grid row (for cost against panels on the page). */
function tenDashboard(): DashboardModel {
  return {
    uid: 'ten',
    title: 'Ten panels',
    panels: [{ id: 1, title: 'Ten', type: 'row', collapsed: false, gridPos: { x: 0, y: 0, w: 24, h: 1 } }, ...gridOf(2, 10, 2, 1, 8, (id) => `Ten ${id - 1}`)],
    templating: { list: [] },
    time: { from: 'now-6h', to: 'now' },
    timezone: 'browser',
  };
}

/**
 * `thirty`: 30 panels, 3 per grid row, 10 grid rows of height 7 (2652 CSS px in kiosk): a
 * dashboard far taller than any screen, whose every panel must come out whole.
 */
function thirtyDashboard(): DashboardModel {
  return { uid: 'thirty', title: 'Thirty panels', panels: gridOf(1, 30, 3, 0, 7, (id) => `Thirty ${id}`), templating: { list: [] }, time: { from: 'now-6h', to: 'now' }, timezone: 'browser' };
}

/**
 * `rows`: what issue 23 tried on real Grafana: a panel (11), an open row with a panel (12),
 * and a collapsed row holding a panel (13).
 */
function rowsDashboard(): DashboardModel {
  return {
    uid: 'rows',
    title: 'Rows',
    panels: [
      { id: 11, title: 'Loose panel', type: 'timeseries', gridPos: { x: 0, y: 0, w: 24, h: 8 } },
      { id: 20, title: 'Open row', type: 'row', collapsed: false, gridPos: { x: 0, y: 8, w: 24, h: 1 } },
      { id: 12, title: 'Open panel', type: 'timeseries', gridPos: { x: 0, y: 9, w: 24, h: 8 } },
      { id: 30, title: 'Collapsed row', type: 'row', collapsed: true, gridPos: { x: 0, y: 17, w: 24, h: 1 }, panels: [{ id: 13, title: 'Hidden panel', type: 'timeseries', gridPos: { x: 0, y: 18, w: 24, h: 8 } }] },
    ],
    templating: { list: [] },
    time: { from: 'now-6h', to: 'now' },
    timezone: 'browser',
  };
}

/** Boards the stand-in draws on Grafana's 24-column grid (the others are its plain 4-panel page). */
export const GRID_BOARDS = ['big', 'ten', 'thirty', 'rows'];

function plainDashboard(uid: string): DashboardModel {
  return {
    uid,
    title: `Dashboard ${uid}`,
    panels: gridOf(1, 4, 1, 0, 10, (id) => `Panel ${id}`),
    templating: { list: [] },
    time: { from: 'now-6h', to: 'now' },
    timezone: 'browser',
  };
}

/** A panel id whose d-solo page answers HTTP 500: for a batch with one failing panel. */
export const BROKEN_PANEL_ID = 500;

/**
 * The API answer for `uid`, or undefined (404) for uids starting with `missing`. `huge` has
 * 5000 panels (a request no batch should take on); `flaky` is the plain board with panel 3
 * replaced by BROKEN_PANEL_ID; uids starting with `utc` are the plain board saved with
 * timezone "utc" and a default range of now-2d..now.
 */
/** The saved version every stand-in dashboard reports. */
export const DASHBOARD_VERSION = 4;

export function dashboardByUid(uid: string): DashboardResponse | undefined {
  if (uid.startsWith('missing')) return undefined;
  const boards: Record<string, () => DashboardModel> = { big: bigDashboard, ten: tenDashboard, thirty: thirtyDashboard, rows: rowsDashboard };
  const dashboard = (boards[uid] ?? (() => plainDashboard(uid)))();
  if (uid === 'huge') dashboard.panels = gridOf(1, 5000, 4, 0, 6, (id) => `Panel ${id}`);
  if (uid === 'flaky') dashboard.panels[2]!.id = BROKEN_PANEL_ID;
  // A board saved with its own timezone and default range (what a report falls back to).
  if (uid.startsWith('utc')) Object.assign(dashboard, { timezone: 'utc', time: { from: 'now-2d', to: 'now' } });
  dashboard.version = DASHBOARD_VERSION;
  const slug = slugify(dashboard.title);
  return { dashboard, meta: { slug, url: `/d/${encodeURIComponent(uid)}/${slug}`, folderTitle: 'General' } };
}
