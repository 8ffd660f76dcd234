// Three thin panel plugins over @grafana/ui's visualisations (Grafana's own panel plugins
// live in Grafana core, not on npm): a uPlot time series, a stat (BigValue with sparkline)
// and a bar gauge. Loaded as a module of its own, the way Grafana loads panel plugins.
import {
  FieldColorModeId,
  getFieldDisplayValues,
  PanelPlugin,
  VizOrientation,
  type FieldConfigEditorBuilder,
  type PanelProps,
} from '@grafana/data';
import {
  BarGauge,
  BarGaugeDisplayMode,
  BigValue,
  BigValueColorMode,
  BigValueGraphMode,
  BigValueJustifyMode,
  BigValueTextMode,
  LegendDisplayMode,
  TimeSeries,
  useTheme2,
} from '@grafana/ui';
import { BarGaugeNamePlacement } from '@grafana/schema';

/** The time series' custom field options (what Grafana's timeseries panel declares, with its defaults). */
const GRAPH_DEFAULTS: Record<string, unknown> = {
  drawStyle: 'line',
  lineInterpolation: 'smooth',
  lineWidth: 1,
  fillOpacity: 10,
  gradientMode: 'none',
  showPoints: 'never',
  pointSize: 5,
  spanNulls: false,
  axisPlacement: 'auto',
  axisBorderShow: false,
  axisCenteredZero: false,
  axisColorMode: 'text',
  axisLabel: '',
  barAlignment: 0,
  scaleDistribution: { type: 'linear' },
  stacking: { mode: 'none', group: 'A' },
  thresholdsStyle: { mode: 'off' },
  hideFrom: { legend: false, tooltip: false, viz: false },
  lineStyle: { fill: 'solid' },
  insertNulls: false,
};

function customGraphConfig(builder: FieldConfigEditorBuilder<Record<string, unknown>>): void {
  const none = () => null;
  for (const [id, defaultValue] of Object.entries(GRAPH_DEFAULTS)) {
    builder.addCustomEditor({ id, path: id, name: id, editor: none, override: none, process: (v: unknown) => v, shouldApply: () => true, defaultValue });
  }
}

function TimeSeriesPanel(p: PanelProps) {
  return (
    <TimeSeries
      frames={p.data.series}
      structureRev={p.data.structureRev}
      timeRange={p.timeRange}
      timeZone={p.timeZone}
      width={p.width}
      height={p.height}
      legend={{ showLegend: true, displayMode: LegendDisplayMode.List, placement: 'bottom', calcs: [] }}
      options={p.options}
    />
  );
}

function useValues(p: PanelProps, sparkline: boolean) {
  const theme = useTheme2();
  return getFieldDisplayValues({
    fieldConfig: p.fieldConfig,
    reduceOptions: { calcs: ['lastNotNull'] },
    replaceVariables: p.replaceVariables,
    theme,
    data: p.data.series,
    timeZone: p.timeZone,
    sparkline,
  });
}

function StatPanel(p: PanelProps) {
  const theme = useTheme2();
  const v = useValues(p, true)[0];
  if (!v) return null;
  return (
    <BigValue
      theme={theme}
      width={p.width}
      height={p.height}
      value={v.display}
      sparkline={v.sparkline}
      colorMode={BigValueColorMode.Value}
      graphMode={BigValueGraphMode.Area}
      justifyMode={BigValueJustifyMode.Auto}
      textMode={BigValueTextMode.Auto}
    />
  );
}

function GaugePanel(p: PanelProps) {
  const theme = useTheme2();
  const v = useValues(p, false)[0];
  if (!v) return null;
  return (
    <BarGauge
      theme={theme}
      width={p.width}
      height={p.height}
      value={v.display}
      field={v.field}
      display={v.view?.getFieldDisplayProcessor(v.colIndex)}
      orientation={VizOrientation.Horizontal}
      displayMode={BarGaugeDisplayMode.Gradient}
      namePlacement={BarGaugeNamePlacement.Hidden}
      showUnfilled
    />
  );
}

function plugin(id: string, panel: (p: PanelProps) => JSX.Element | null, custom?: typeof customGraphConfig): PanelPlugin {
  const p = new PanelPlugin(panel as never).useFieldConfig({
    standardOptions: { color: { defaultValue: { mode: FieldColorModeId.Thresholds } } },
    useCustomConfig: custom as never,
  });
  p.meta = { ...p.meta, id, name: id, type: 'panel', sort: 0, module: `standin/${id}`, baseUrl: '', info: { author: { name: 'stand-in' }, description: '', links: [], logos: { small: '', large: '' }, screenshots: [], updated: '', version: '12.2.0' } } as never;
  return p;
}

export const panelPlugins: Record<string, PanelPlugin> = {
  timeseries: plugin('timeseries', TimeSeriesPanel, customGraphConfig),
  stat: plugin('stat', StatPanel),
  bargauge: plugin('bargauge', GaugePanel),
};
