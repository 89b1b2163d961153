/**
 * The plot view: Plotly plots of NetCDF datasets' 1-D variables. By default it
 * follows the selection and shows the outputs of the selected version; ticking
 * datasets and variables, or editing the series form, pins a choice. Choices
 * are kept per project in the state database, so a reload shows the same plot.
 */
import {
  FormComponent,
  IFormComponentProps,
  ReactWidget
} from '@jupyterlab/ui-components';
import { JSONObject, ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';
import validator from '@rjsf/validator-ajv8';
import React from 'react';
import { IDataset } from '../api';
import { INagelfluhContext } from '../context';
import {
  EMPTY_CONFIG,
  fitMode,
  followedDatasets,
  GridMode,
  LineMode,
  normalizeSeries,
  parseConfig,
  IPlotConfig,
  SERIES_UI_SCHEMA,
  ISeriesConfig,
  seriesSchema,
  toggleVariable,
  withDatasets
} from '../plot/config';
import {
  coordinateOf,
  datasetLabel,
  dimensionOf,
  isGrid,
  plottableDatasets,
  plottableVariables,
  unitOf,
  variableLabel,
  variableOf
} from '../plot/datasets';
import { IGraphStatus, IResolvedSeries, SeriesGraph } from '../plot/graph';
import { IResolvedGrid } from '../plot/grid';
import { GraphHost } from '../plot/host';

const STATE_PREFIX = 'nagelfluh-lab:plot:';

/** rjsf's validator typed for FormComponent's JSON form data (the generics differ only in name). */
const formValidator = validator as unknown as IFormComponentProps['validator'];

export function create(
  ctx: INagelfluhContext,
  args: ReadonlyPartialJSONObject
): Widget {
  const view = new PlotView(ctx);
  view.configure(args);
  return view;
}

class PlotView extends ReactWidget {
  constructor(private readonly ctx: INagelfluhContext) {
    super();
    this.addClass('nf-PlotView');
    this.node.dataset.testid = 'nf-plot';
    this.title.label = 'Plot';
    this._graph = new SeriesGraph(ctx.client);
    this._graph.statusChanged.connect(() => this.update(), this);
    ctx.store.changed.connect(this._onStore, this);
    this._onStore();
  }

  /** `{datasets: [id, ...]}` plots exactly those datasets and stops following the selection. */
  configure(args: ReadonlyPartialJSONObject): void {
    const ids = args.datasets;
    if (Array.isArray(ids) && ids.every(id => typeof id === 'number')) {
      this._pending = ids as number[];
      this._applyPending();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.ctx.store.changed.disconnect(this._onStore, this);
    this._graph.dispose();
    super.dispose();
  }

  protected render(): React.ReactElement {
    const store = this.ctx.store;
    const datasets = plottableDatasets(store.datasets);
    return (
      <PlotPanel
        config={this._config}
        datasets={datasets}
        processes={store.processes}
        status={this._graph.status}
        graph={this._graph.node}
        loaded={this._loaded}
        sidebar={this._sidebar}
        onToggleSidebar={() => {
          this._sidebar = !this._sidebar;
          this.update();
        }}
        onFollow={follow =>
          this._setConfig(this._followed({ ...this._config, follow }))
        }
        onDataset={(id, on) => {
          const ids = on
            ? [...this._config.datasets, id]
            : this._config.datasets.filter(d => d !== id);
          this._setConfig({
            ...withDatasets(this._config, ids, datasets),
            follow: false
          });
        }}
        onVariable={(id, name) => {
          const grid = isGrid(variableOf(store.dataset(id), name));
          this._setConfig({
            ...toggleVariable(this._config, id, name, grid),
            follow: false
          });
        }}
        onSeries={series => {
          const next = normalizeSeries(this._config, series, datasets);
          if (
            JSON.stringify(next.series) !== JSON.stringify(this._config.series)
          ) {
            this._setConfig({ ...next, follow: false });
          }
        }}
      />
    );
  }

  /** A project switch loads that project's choices; otherwise follow the selection. */
  private _onStore(): void {
    const project = this.ctx.selection.project;
    if (project !== this._project) {
      this._project = project;
      this._loaded = false;
      this._config = EMPTY_CONFIG;
      this._pushSeries();
      void this._load(project);
    } else if (this._loaded) {
      this._setConfig(this._followed(this._config));
      this._applyPending();
    }
    this.update();
  }

  private async _load(project: number | null): Promise<void> {
    let config: IPlotConfig | null = null;
    if (project !== null && this.ctx.state) {
      try {
        config = parseConfig(
          await this.ctx.state.fetch(STATE_PREFIX + project)
        );
      } catch {
        config = null;
      }
    }
    if (project !== this._project || this.isDisposed) {
      return;
    }
    this._loaded = true;
    this._config = this._followed(config ?? EMPTY_CONFIG);
    this._applyPending();
    this._pushSeries();
    this.update();
  }

  /** Args that named datasets wait until the project's choices and datasets are in. */
  private _applyPending(): void {
    const ids = this._pending;
    if (!ids || !this._loaded) {
      return;
    }
    const datasets = plottableDatasets(this.ctx.store.datasets);
    if (!ids.every(id => datasets.some(d => d.id === id))) {
      return;
    }
    this._pending = null;
    this._setConfig({
      ...withDatasets(this._config, ids, datasets),
      follow: false
    });
  }

  /** With "follow" on, the chosen datasets are the selected version's outputs. */
  private _followed(config: IPlotConfig): IPlotConfig {
    if (!config.follow) {
      return config;
    }
    const outputs = this.ctx.store.activeVersion?.outputs ?? [];
    const ids = followedDatasets(outputs);
    const same =
      ids.length === config.datasets.length &&
      ids.every(id => config.datasets.includes(id));
    return same
      ? config
      : withDatasets(config, ids, [...outputs, ...this.ctx.store.datasets]);
  }

  private _setConfig(config: IPlotConfig): void {
    const changed = JSON.stringify(config) !== JSON.stringify(this._config);
    this._config = config;
    this._pushSeries();
    this.update();
    if (changed && this._project !== null && this.ctx.state) {
      void this.ctx.state.save(
        STATE_PREFIX + this._project,
        config as unknown as JSONObject
      );
    }
  }

  /** Hand the visible series, with their metadata, to the graph; the first visible grid is drawn alone. */
  private _pushSeries(): void {
    const store = this.ctx.store;
    const chosen = this._config.series.filter(s => s.visible);
    const datasets = new Set(chosen.map(s => s.dataset));
    const resolved: IResolvedSeries[] = [];
    let grid: IResolvedGrid | null = null;
    for (const s of chosen) {
      const dataset = store.dataset(s.dataset);
      const variable = variableOf(dataset, s.variable);
      if (dataset && variable && isGrid(variable) && variable.dims) {
        if (!grid) {
          const [yDim, xDim] = variable.dims;
          const x = coordinateOf(dataset, xDim);
          const y = coordinateOf(dataset, yDim);
          const process = store.processById(dataset.process);
          const source = process
            ? `${process.name} v${dataset.version}`
            : dataset.name;
          grid = {
            dataset: dataset.id,
            variable: variable.name,
            mode: fitMode(s.mode, true) as GridMode,
            label: `${source} · ${variable.name}`,
            zTitle: variable.long_name || variable.name,
            unit: unitOf(variable),
            xTitle: x ? x.long_name || x.name : xDim,
            xUnit: unitOf(x),
            yTitle: y ? y.long_name || y.name : yDim,
            yUnit: unitOf(y)
          };
        }
        continue;
      }
      const dimension = dimensionOf(variable);
      if (!dataset || !variable || dimension === null) {
        continue;
      }
      const x = coordinateOf(dataset, dimension);
      const process = store.processById(dataset.process);
      const source = process
        ? `${process.name} v${dataset.version}`
        : dataset.name;
      resolved.push({
        dataset: dataset.id,
        variable: variable.name,
        dimension,
        xVariable: x?.name ?? null,
        label:
          datasets.size > 1 ? `${source} · ${variable.name}` : variable.name,
        mode: fitMode(s.mode, false) as LineMode,
        color: s.color,
        yTitle: variable.long_name || variable.name,
        unit: unitOf(variable),
        xTitle: x ? x.long_name || x.name : dimension,
        xUnit: unitOf(x)
      });
    }
    this._graph.setSeries(resolved, grid);
  }

  private _graph: SeriesGraph;
  private _project: number | null | undefined = undefined;
  private _config: IPlotConfig = EMPTY_CONFIG;
  private _loaded = false;
  private _pending: number[] | null = null;
  private _sidebar = true;
}

interface IPanelProps {
  config: IPlotConfig;
  datasets: IDataset[];
  processes: { id: number; name: string }[];
  status: IGraphStatus;
  graph: HTMLElement;
  loaded: boolean;
  sidebar: boolean;
  onToggleSidebar(): void;
  onFollow(follow: boolean): void;
  onDataset(id: number, on: boolean): void;
  onVariable(id: number, name: string): void;
  onSeries(series: Partial<ISeriesConfig>[]): void;
}

function PlotPanel(props: IPanelProps): React.ReactElement {
  const { config, datasets, processes, status } = props;
  const chosen = datasets.filter(d => config.datasets.includes(d.id));
  const visible = config.series.filter(
    s => s.visible && datasets.some(d => d.id === s.dataset)
  );
  const known = config.series.filter(s =>
    datasets.some(d => d.id === s.dataset)
  );
  const schemaKey = JSON.stringify(
    datasets.map(d => [
      d.id,
      datasetLabel(d, processes),
      plottableVariables(d).map(variableLabel)
    ])
  );
  const schema = React.useMemo(
    () => seriesSchema(datasets, processes),
    [schemaKey]
  );
  let hint = '';
  if (!props.loaded) {
    hint = 'Loading…';
  } else if (datasets.length === 0) {
    hint =
      'This project has no NetCDF datasets yet: run a process that writes one.';
  } else if (visible.length === 0) {
    hint = config.follow
      ? 'The selected version has no NetCDF outputs to plot: select another process, or choose datasets.'
      : 'Choose datasets and variables to plot.';
  }
  return (
    <div className="nf-Plot">
      <div className="nf-Plot-main">
        <div className="nf-Plot-bar">
          <span
            className="nf-Plot-status"
            data-testid="nf-plot-status"
            role="status"
            aria-live="polite"
          >
            {status.loading ? 'loading…' : status.text}
          </span>
          <button
            type="button"
            className="nf-Button"
            data-testid="nf-plot-settings-toggle"
            aria-expanded={props.sidebar}
            aria-controls="nf-plot-settings"
            onClick={props.onToggleSidebar}
          >
            {props.sidebar ? 'Hide settings' : 'Settings'}
          </button>
        </div>
        <GraphHost
          node={props.graph}
          testid="nf-plot"
          error={status.errors.length > 0 ? status.errors.join('; ') : null}
          hint={hint}
        />
      </div>
      {props.sidebar && (
        <aside
          className="nf-Plot-sidebar"
          id="nf-plot-settings"
          aria-label="Plot settings"
        >
          <label className="nf-Plot-check">
            <input
              type="checkbox"
              data-testid="nf-plot-follow"
              checked={config.follow}
              onChange={e => props.onFollow(e.currentTarget.checked)}
            />
            Follow the selected process
          </label>
          <fieldset className="nf-Plot-group" data-testid="nf-plot-datasets">
            <legend>Datasets</legend>
            {datasets.length === 0 && (
              <div className="nf-Plot-empty">No NetCDF datasets.</div>
            )}
            <div className="nf-Plot-list">
              {datasets.map(d => (
                <label
                  key={d.id}
                  className="nf-Plot-check"
                  title={d.title ?? d.name}
                >
                  <input
                    type="checkbox"
                    data-testid={`nf-plot-dataset-${d.id}`}
                    checked={config.datasets.includes(d.id)}
                    onChange={e =>
                      props.onDataset(d.id, e.currentTarget.checked)
                    }
                  />
                  {datasetLabel(d, processes)}
                </label>
              ))}
            </div>
          </fieldset>
          <fieldset className="nf-Plot-group" data-testid="nf-plot-variables">
            <legend>Variables</legend>
            {chosen.length === 0 && (
              <div className="nf-Plot-empty">Choose a dataset first.</div>
            )}
            {chosen.map(d => (
              <div
                key={d.id}
                className="nf-Plot-variables"
                role="group"
                aria-label={datasetLabel(d, processes)}
              >
                <div className="nf-Plot-variablesTitle">
                  {datasetLabel(d, processes)}
                </div>
                {plottableVariables(d).map(v => (
                  <label key={v.name} className="nf-Plot-check">
                    <input
                      type="checkbox"
                      data-testid={`nf-plot-variable-${d.id}-${v.name}`}
                      checked={config.series.some(
                        s => s.dataset === d.id && s.variable === v.name
                      )}
                      onChange={() => props.onVariable(d.id, v.name)}
                    />
                    {variableLabel(v)}
                  </label>
                ))}
              </div>
            ))}
          </fieldset>
          {datasets.length > 0 && known.length > 0 && (
            <div className="nf-Plot-form" data-testid="nf-plot-series-form">
              <FormComponent
                schema={schema}
                uiSchema={SERIES_UI_SCHEMA}
                formData={{ series: known } as unknown as JSONObject}
                validator={formValidator}
                compact
                showModifiedFromDefault={false}
                onChange={e =>
                  props.onSeries(
                    (e.formData?.series ?? []) as Partial<ISeriesConfig>[]
                  )
                }
              />
            </div>
          )}
        </aside>
      )}
    </div>
  );
}
