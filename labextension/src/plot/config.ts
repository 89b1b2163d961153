/**
 * The plot view's choices: which datasets, which of their variables as which
 * kind of series, in which colour. Kept as plain JSON so IStateDB can store it
 * per project and a reload shows the same plot. The functions here are pure
 * and keep the choices consistent (a series' variable always belongs to its
 * dataset, every series has a colour).
 */
import { IDataset, IProcess } from '../api';
import {
  datasetLabel,
  defaultVariables,
  isGrid,
  plottableDatasets,
  plottableVariables,
  variableLabel,
  variableOf
} from './datasets';

export type LineMode = 'lines' | 'markers' | 'lines+markers';
/** How a 2-D variable is drawn. */
export type GridMode = 'heatmap' | 'contour';
export type Mode = LineMode | GridMode;

export const LINE_MODES: { value: LineMode; title: string }[] = [
  { value: 'lines', title: 'Line' },
  { value: 'markers', title: 'Points' },
  { value: 'lines+markers', title: 'Line and points' }
];

export const GRID_MODES: { value: GridMode; title: string }[] = [
  { value: 'heatmap', title: 'Heatmap (2-D)' },
  { value: 'contour', title: 'Contours (2-D)' }
];

export const MODES: { value: Mode; title: string }[] = [
  ...LINE_MODES,
  ...GRID_MODES
];

export function isGridMode(mode: Mode): mode is GridMode {
  return GRID_MODES.some(m => m.value === mode);
}

/** A mode that fits the variable: a grid draws as a heatmap or contours, a 1-D variable as lines or points. */
export function fitMode(mode: Mode | undefined, grid: boolean): Mode {
  if (grid) {
    return mode && isGridMode(mode) ? mode : 'heatmap';
  }
  return mode && !isGridMode(mode) && MODES.some(m => m.value === mode)
    ? mode
    : 'lines';
}

export interface ISeriesConfig {
  dataset: number;
  variable: string;
  mode: Mode;
  color: string;
  visible: boolean;
}

export interface IPlotConfig {
  /** Show the outputs of the selected process version, following the selection. */
  follow: boolean;
  datasets: number[];
  series: ISeriesConfig[];
}

export const EMPTY_CONFIG: IPlotConfig = {
  follow: true,
  datasets: [],
  series: []
};

/** Distinct hues readable on light and dark backgrounds (the D3/Plotly category colours). */
export const PALETTE = [
  '#1f77b4',
  '#ff7f0e',
  '#2ca02c',
  '#d62728',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#bcbd22',
  '#7f7f7f'
];

/** The first palette colour no series uses yet (cycling once all are taken). */
export function nextColor(
  series: readonly Pick<ISeriesConfig, 'color'>[]
): string {
  const used = new Set(series.map(s => s.color.toLowerCase()));
  return (
    PALETTE.find(c => !used.has(c)) ?? PALETTE[series.length % PALETTE.length]
  );
}

/**
 * One line series per variable of `dataset` worth plotting (its measurements,
 * not where or when they were taken), with fresh colours: each unit adds a y
 * axis, so a survey plots its anomaly alone, not beside its coordinates.
 */
export function defaultSeries(
  dataset: IDataset,
  existing: readonly ISeriesConfig[]
): ISeriesConfig[] {
  const added: ISeriesConfig[] = [];
  for (const variable of defaultVariables(dataset)) {
    added.push({
      dataset: dataset.id,
      variable: variable.name,
      mode: fitMode(undefined, isGrid(variable)),
      color: nextColor([...existing, ...added]),
      visible: true
    });
  }
  return added;
}

/**
 * Choose exactly `ids` as the datasets: series of datasets that stay keep
 * their settings, datasets that are new get a series for each variable.
 */
export function withDatasets(
  config: IPlotConfig,
  ids: readonly number[],
  known: readonly IDataset[]
): IPlotConfig {
  const chosen = [...new Set(ids)];
  const series = config.series.filter(s => chosen.includes(s.dataset));
  for (const id of chosen) {
    const dataset = known.find(d => d.id === id);
    if (dataset && !config.datasets.includes(id)) {
      series.push(...defaultSeries(dataset, series));
    }
  }
  return { ...config, datasets: chosen, series };
}

/**
 * Add a series for `variable` of `dataset`, or remove every series showing it.
 * A grid (2-D) is plotted alone: adding one replaces the other series, adding
 * a 1-D variable removes the grids.
 */
export function toggleVariable(
  config: IPlotConfig,
  dataset: number,
  variable: string,
  grid = false
): IPlotConfig {
  const shown = config.series.some(
    s => s.dataset === dataset && s.variable === variable
  );
  if (shown) {
    return {
      ...config,
      series: config.series.filter(
        s => s.dataset !== dataset || s.variable !== variable
      )
    };
  }
  const others = grid ? [] : config.series.filter(s => !isGridMode(s.mode));
  const added = {
    dataset,
    variable,
    mode: fitMode(undefined, grid),
    color: nextColor(others),
    visible: true
  };
  return { ...config, series: [...others, added] };
}

/**
 * Make series edited in the form consistent: a variable the chosen dataset does
 * not have becomes its first variable worth plotting, a missing colour or mode
 * gets a default, and each series' dataset joins the chosen datasets.
 */
export function normalizeSeries(
  config: IPlotConfig,
  edited: readonly Partial<ISeriesConfig>[],
  known: readonly IDataset[]
): IPlotConfig {
  const series: ISeriesConfig[] = [];
  for (const item of edited) {
    const dataset = known.find(d => d.id === item.dataset);
    if (!dataset) {
      continue;
    }
    const names = plottableVariables(dataset).map(v => v.name);
    const variable =
      item.variable && names.includes(item.variable)
        ? item.variable
        : defaultVariables(dataset)[0]?.name;
    if (variable === undefined) {
      continue;
    }
    series.push({
      dataset: dataset.id,
      variable,
      mode: fitMode(item.mode, isGrid(variableOf(dataset, variable))),
      color: item.color || nextColor(series),
      visible: item.visible ?? true
    });
  }
  const datasets = [...config.datasets];
  for (const s of series) {
    if (!datasets.includes(s.dataset)) {
      datasets.push(s.dataset);
    }
  }
  return { ...config, datasets, series };
}

/** A stored config if it has the right shape, else null (an old or foreign value). */
export function parseConfig(value: unknown): IPlotConfig | null {
  if (!value || typeof value !== 'object') {
    return null;
  }
  const raw = value as Record<string, unknown>;
  if (
    typeof raw.follow !== 'boolean' ||
    !Array.isArray(raw.datasets) ||
    !Array.isArray(raw.series)
  ) {
    return null;
  }
  const datasets = raw.datasets.filter((d): d is number => Number.isInteger(d));
  const series = raw.series.filter(
    (s): s is ISeriesConfig =>
      !!s &&
      typeof s === 'object' &&
      Number.isInteger(s.dataset) &&
      typeof s.variable === 'string' &&
      MODES.some(m => m.value === s.mode) &&
      typeof s.color === 'string' &&
      typeof s.visible === 'boolean'
  );
  return { follow: raw.follow, datasets, series };
}

/** The NetCDF outputs of a version that have something to plot: what "follow" shows. */
export function followedDatasets(
  outputs: readonly IDataset[] | undefined
): number[] {
  return plottableDatasets(outputs ?? []).map(d => d.id);
}

/**
 * JSON Schema of the series form: a series' variable choices depend on its
 * dataset (a JSON Schema dependency, which rjsf resolves per array item).
 */
export function seriesSchema(
  datasets: readonly IDataset[],
  processes: readonly Pick<IProcess, 'id' | 'name'>[]
): Record<string, unknown> {
  return {
    type: 'object',
    properties: {
      series: {
        type: 'array',
        title: 'Series',
        items: {
          type: 'object',
          required: ['dataset', 'variable', 'mode', 'visible'],
          properties: {
            dataset: {
              type: 'integer',
              title: 'Dataset',
              oneOf: datasets.map(d => ({
                const: d.id,
                title: datasetLabel(d, processes)
              })),
              default: datasets[0]?.id
            },
            mode: {
              type: 'string',
              title: 'Element',
              // Grid modes are offered only when some dataset has a 2-D variable.
              oneOf: (datasets.some(d => plottableVariables(d).some(isGrid))
                ? MODES
                : LINE_MODES
              ).map(m => ({
                const: m.value,
                title: m.title
              })),
              default: 'lines'
            },
            color: { type: 'string', title: 'Colour', format: 'color' },
            visible: { type: 'boolean', title: 'Visible', default: true }
          },
          dependencies: {
            dataset: {
              oneOf: datasets.map(d => ({
                properties: {
                  dataset: { enum: [d.id] },
                  variable: {
                    type: 'string',
                    title: 'Variable',
                    oneOf: plottableVariables(d).map(v => ({
                      const: v.name,
                      title: variableLabel(v)
                    })),
                    default: defaultVariables(d)[0]?.name
                  }
                }
              }))
            }
          }
        }
      }
    }
  };
}

export const SERIES_UI_SCHEMA: Record<string, unknown> = {
  series: {
    items: {
      // Items are numbered by CSS ("Series 1", ...) rather than rjsf's "series-0".
      'ui:title': '',
      'ui:order': ['dataset', 'variable', 'mode', 'color', 'visible']
    }
  }
};
