/**
 * The map view: a dataset's points at their latitude/longitude, coloured by a
 * chosen variable. It works offline over a base map bundled with the
 * extension, and uses raster tiles only when the user configured a tile URL.
 * It shows the selected version's geographic output when it has one; the
 * choice of dataset and variable is kept per project. A variable gridded over
 * latitude × longitude (an inversion's model) is drawn as a raster layer, asked
 * for at about one cell per pixel of the map; on the offline map a zoom or pan
 * asks for the visible longitude/latitude range again (at full resolution when
 * it is small enough), and autorange for the whole grid.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { JSONObject, ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';
import React from 'react';
import {
  ApiError,
  IDataset,
  IDatasetGrid,
  IDatasetView,
  IVariable
} from '../api';
import { INagelfluhContext } from '../context';
import { loadBaseMap } from '../plot/basemap';
import { GraphHost } from '../plot/host';
import {
  datasetLabel,
  IGeoGrid,
  isViewable,
  mapLayersOf,
  mappableDatasets,
  unitOf,
  variableLabel
} from '../plot/datasets';
import { gridQuery, gridStatusText } from '../plot/grid';
import {
  fitView,
  gridExtent,
  IMapGrid,
  mapRangeChanges,
  IMapPoints,
  offlineMapFigure,
  tileMapFigure
} from '../plot/mapfigure';
import { IGraphDiv, PLOT_CONFIG } from '../plot/plotly';
import { PlotlyDiv } from '../plot/plotlydiv';
import { MAX_POINTS, statusText, XRange } from '../plot/zoom';

const STATE_PREFIX = 'nagelfluh-lab:map:';

export function create(
  ctx: INagelfluhContext,
  args: ReadonlyPartialJSONObject
): Widget {
  const view = new MapView(ctx);
  view.configure(args);
  return view;
}

interface IMapChoice {
  dataset: number | null;
  variable: string | null;
}

class MapView extends ReactWidget {
  constructor(private readonly ctx: INagelfluhContext) {
    super();
    this.addClass('nf-MapView');
    this.node.dataset.testid = 'nf-map';
    this.title.label = 'Map';
    this._div = new PlotlyDiv(
      'nf-map-graph',
      () => this._drawNow(),
      () => this._onResize()
    );
    ctx.store.changed.connect(this._onStore, this);
    ctx.settings.changed.connect(this._onSettings, this);
    this._onStore();
  }

  /** `{dataset: id, variable?: name}` shows that dataset. */
  configure(args: ReadonlyPartialJSONObject): void {
    if (typeof args.dataset === 'number') {
      this._choose({
        dataset: args.dataset,
        variable: typeof args.variable === 'string' ? args.variable : null
      });
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.ctx.store.changed.disconnect(this._onStore, this);
    this.ctx.settings.changed.disconnect(this._onSettings, this);
    clearTimeout(this._zoomTimer);
    this._div.dispose();
    super.dispose();
  }

  protected render(): React.ReactElement {
    const datasets = mappableDatasets(this.ctx.store.datasets);
    const dataset = datasets.find(d => d.id === this._choice.dataset);
    return (
      <MapPanel
        datasets={datasets}
        processes={this.ctx.store.processes}
        dataset={dataset}
        variables={colourVariables(dataset).map(v => ({
          name: v.name,
          label: variableLabel(v)
        }))}
        variable={this._choice.variable}
        status={this._status}
        error={this._error}
        loading={this._loading}
        tiles={!!this.ctx.settings.values.mapTilesUrl}
        graph={this._div.node}
        onDataset={id => this._choose({ dataset: id, variable: null })}
        onVariable={name =>
          this._choose({ dataset: this._choice.dataset, variable: name })
        }
      />
    );
  }

  private _onStore(): void {
    const project = this.ctx.selection.project;
    if (project !== this._project) {
      this._project = project;
      this._loaded = false;
      this._choice = { dataset: null, variable: null };
      this._layers = null;
      this._fetchedKey = '';
      void this._div.redraw();
      void this._load(project);
      return;
    }
    if (!this._loaded) {
      return;
    }
    const active = this.ctx.store.activeVersion;
    const key = active
      ? `${active.process}:${active.version}:${active.outputs.length}`
      : '';
    if (key !== this._activeKey) {
      this._activeKey = key;
      const output = firstToMap(active?.outputs ?? []);
      if (output && output.id !== this._choice.dataset) {
        this._choose({ dataset: output.id, variable: null });
        return;
      }
    }
    if (this._choice.dataset === null) {
      const newest = mappableDatasets(this.ctx.store.datasets)[0];
      if (newest) {
        this._choose({ dataset: newest.id, variable: null });
        return;
      }
    }
    this._refresh();
  }

  private async _load(project: number | null): Promise<void> {
    let saved: IMapChoice | null = null;
    if (project !== null && this.ctx.state) {
      try {
        const value = (await this.ctx.state.fetch(STATE_PREFIX + project)) as
          Partial<IMapChoice> | undefined;
        if (value && typeof value.dataset === 'number') {
          const variable =
            typeof value.variable === 'string' ? value.variable : null;
          saved = { dataset: value.dataset, variable };
        }
      } catch {
        saved = null;
      }
    }
    if (project !== this._project || this.isDisposed) {
      return;
    }
    this._loaded = true;
    this._activeKey = '';
    if (saved && this._choice.dataset === null) {
      this._choice = saved;
    }
    this._onStore();
  }

  /** Choose a dataset (its first variable unless one is named) and keep the choice for the project. */
  private _choose(choice: IMapChoice): void {
    const variables = colourVariables(
      this.ctx.store.dataset(choice.dataset ?? -1)
    );
    const named = variables.some(v => v.name === choice.variable);
    const variable = named ? choice.variable : (variables[0]?.name ?? null);
    const next = { dataset: choice.dataset, variable };
    if (this._error) {
      // Choosing again after a failed fetch tries again.
      this._fetchedKey = '';
    }
    if (
      next.dataset === this._choice.dataset &&
      next.variable === this._choice.variable
    ) {
      this._refresh();
      return;
    }
    this._choice = next;
    if (
      this._project !== null &&
      this._project !== undefined &&
      this.ctx.state
    ) {
      void this.ctx.state.save(
        STATE_PREFIX + this._project,
        next as unknown as JSONObject
      );
    }
    this._refresh();
  }

  /** Fetch the chosen dataset's points when the choice changed, then draw. */
  private _refresh(): void {
    this.update();
    const dataset = this.ctx.store.dataset(this._choice.dataset ?? -1);
    const layers = dataset ? mapLayersOf(dataset) : null;
    if (!dataset || !layers) {
      this._layers = null;
      this._fetchedKey = '';
      void this._div.redraw();
      return;
    }
    if (layers.kind === 'grid') {
      this._refreshGrid(
        dataset,
        layers.grids.find(g => g.variable.name === this._choice.variable) ??
          layers.grids[0]
      );
      return;
    }
    const geo = layers.geo;
    const key = `${dataset.id}|${this._choice.variable ?? ''}`;
    if (key === this._fetchedKey) {
      return;
    }
    this._fetchedKey = key;
    const variable =
      geo.values.find(v => v.name === this._choice.variable) ?? null;
    const y = variable
      ? [geo.latitude.name, variable.name]
      : [geo.latitude.name];
    this._loading = true;
    this._error = null;
    this.update();
    this.ctx.client
      .datasetView(dataset.id, { x: geo.longitude.name, y, points: MAX_POINTS })
      .then(
        view => {
          if (key !== this._fetchedKey) {
            return;
          }
          this._loading = false;
          this._layers = {
            points: pointsOf(view, geo.latitude.name, variable),
            grid: null
          };
          this._status = statusText([
            {
              shown: view.x.values.length,
              inRange: view.in_range,
              total: view.total,
              decimated: view.decimated
            }
          ]);
          void this._div.redraw();
        },
        (error: unknown) => {
          if (key !== this._fetchedKey) {
            return;
          }
          this._fail(error);
        }
      );
  }

  /**
   * Fetch a lat/lon grid at about one cell per pixel of the map (fewer cells on
   * tiles), within the zoomed longitude/latitude ranges if any, then draw.
   */
  private _refreshGrid(dataset: IDataset, grid: IGeoGrid): void {
    const tiled = !!this.ctx.settings.values.mapTilesUrl;
    const stations = this._stationsOf(dataset);
    const key = `${dataset.id}|${grid.variable.name}|${tiled ? 'tiles' : 'offline'}|${stations?.dataset.id ?? ''}`;
    const fresh = key !== this._fetchedKey;
    if (fresh) {
      // Another grid (or map kind) starts from the whole grid.
      clearTimeout(this._zoomTimer);
      this._gridRanges = { x: null, y: null };
      this._extent = null;
    }
    const node = this._div.node;
    const cap = tiled ? MAX_TILE_CELLS_SIDE : Infinity;
    const size = {
      width: Math.min(cap, node.clientWidth || 600),
      height: Math.min(cap, node.clientHeight || 400)
    };
    const ranges = tiled ? { x: null, y: null } : this._gridRanges;
    const query = gridQuery(
      { variable: grid.variable.name },
      size,
      ranges.x,
      ranges.y
    );
    const request = JSON.stringify([key, query]);
    if (!fresh && (request === this._gridRequest || this._error)) {
      return;
    }
    this._fetchedKey = key;
    this._gridRequest = request;
    this._loading = true;
    this._error = null;
    this.update();
    // A zoom keeps the stations already fetched; only the raster is asked for again.
    const kept = !fresh && this._layers ? this._layers.points : undefined;
    const points =
      kept !== undefined
        ? Promise.resolve(kept)
        : stations
          ? this.ctx.client
              .datasetView(stations.dataset.id, {
                x: stations.longitude.name,
                y: [stations.latitude.name],
                points: MAX_POINTS
              })
              .then(view => pointsOf(view, stations.latitude.name, null))
          : Promise.resolve(null);
    const raster = this.ctx.client.datasetGrid(dataset.id, query);
    Promise.all([raster, points]).then(
      ([view, stationPoints]) => {
        if (key !== this._fetchedKey || request !== this._gridRequest) {
          return;
        }
        this._loading = false;
        const layer = gridOf(view, grid.variable);
        // The map stays fitted to the whole grid (the user's zoom is kept by uirevision).
        if (!this._extent || (ranges.x === null && ranges.y === null)) {
          this._extent = gridExtent(layer);
        }
        this._layers = { points: stationPoints, grid: layer };
        this._status = gridStatusText(view);
        void this._div.redraw();
      },
      (error: unknown) => {
        if (key !== this._fetchedKey || request !== this._gridRequest) {
          return;
        }
        this._gridRequest = '';
        this._fail(error);
      }
    );
  }

  /** A zoom or pan of the offline map fetches the visible grid (debounced); autorange the whole grid. */
  private _onRelayout(event: Record<string, unknown>): void {
    if (this._tiled || !this._layers?.grid) {
      return;
    }
    const changes = mapRangeChanges(event);
    let changed = false;
    for (const direction of ['x', 'y'] as const) {
      const next = changes[direction];
      if (next !== undefined && !sameRange(this._gridRanges[direction], next)) {
        this._gridRanges = { ...this._gridRanges, [direction]: next };
        changed = true;
      }
    }
    if (!changed) {
      return;
    }
    clearTimeout(this._zoomTimer);
    this._zoomTimer = window.setTimeout(() => {
      if (!this.isDisposed) {
        this._refresh();
      }
    }, ZOOM_DELAY_MS);
  }

  /**
   * The points drawn over a grid: another output of the same process version
   * with latitude/longitude (an inversion's stations, in misfit.nc), as plain
   * markers so the grid keeps the only colour bar.
   */
  private _stationsOf(
    grid: IDataset
  ): { dataset: IDataset; latitude: IVariable; longitude: IVariable } | null {
    if (grid.process === null) {
      return null;
    }
    for (const other of this.ctx.store.datasets) {
      if (
        other.id === grid.id ||
        other.process !== grid.process ||
        other.version !== grid.version
      ) {
        continue;
      }
      const layers = isViewable(other) ? mapLayersOf(other) : null;
      if (layers?.kind === 'points') {
        return {
          dataset: other,
          latitude: layers.geo.latitude,
          longitude: layers.geo.longitude
        };
      }
    }
    return null;
  }

  private _fail(error: unknown): void {
    this._loading = false;
    this._layers = null;
    this._error = error instanceof ApiError ? error.message : String(error);
    void this._div.redraw();
  }

  private async _drawNow(): Promise<void> {
    this.update();
    const layers = this._layers;
    if (this.isDisposed) {
      return;
    }
    const graph = this._div.node;
    if (!layers) {
      if (this._drawn && this._div.plotly) {
        this._div.plotly.purge(graph);
        this._drawn = false;
        this._listening = false;
      }
      return;
    }
    if (graph.clientWidth === 0) {
      this._stale = true;
      return;
    }
    this._stale = false;
    try {
      const plotly = await this._div.load();
      const { mapTilesUrl, mapTilesAttribution } = this.ctx.settings.values;
      const { points, grid } = layers;
      const extent = grid
        ? (this._extent ?? gridExtent(grid))
        : { lon: points?.lon ?? [], lat: points?.lat ?? [] };
      const view = fitView(extent.lon, extent.lat);
      const size = { width: graph.clientWidth, height: graph.clientHeight };
      const revision = `${this._fetchedKey}|${mapTilesUrl}`;
      const figure = mapTilesUrl
        ? tileMapFigure(
            points,
            { url: mapTilesUrl, attribution: mapTilesAttribution },
            this._div.theme,
            view,
            size,
            revision,
            grid
          )
        : offlineMapFigure(
            points,
            await loadBaseMap(),
            this._div.theme,
            view,
            revision,
            grid
          );
      if (this.isDisposed || layers !== this._layers) {
        return;
      }
      if (this._drawn && this._tiled !== !!mapTilesUrl) {
        plotly.purge(graph);
        this._listening = false;
      }
      this._tiled = !!mapTilesUrl;
      const drawn = await plotly.react(
        graph,
        figure.data,
        figure.layout,
        PLOT_CONFIG
      );
      this._listen(drawn);
      this._drawn = true;
      this._error = null;
      this.update();
    } catch (error) {
      this._error = `The map could not be drawn: ${error}`;
      this.update();
    }
  }

  private _listen(graph: IGraphDiv): void {
    if (!this._listening) {
      this._listening = true;
      graph.on('plotly_relayout', event => this._onRelayout(event));
    }
  }

  private _onResize(): void {
    if (!this._drawn || this._stale) {
      void this._div.redraw();
    } else if (this._div.plotly) {
      void this._div.plotly.Plots.resize(this._div.node);
    }
  }

  private _onSettings(): void {
    // A grid is asked for with fewer cells on tiles: switching kind may fetch it again.
    this._refresh();
    void this._div.redraw();
  }

  private _div: PlotlyDiv;
  /** Whether the graph holds a tile map: switching kind starts from a clean div. */
  private _tiled = false;
  private _project: number | null | undefined = undefined;
  private _loaded = false;
  private _activeKey = '';
  private _choice: IMapChoice = { dataset: null, variable: null };
  private _fetchedKey = '';
  private _layers: { points: IMapPoints | null; grid: IMapGrid | null } | null =
    null;
  private _status = '';
  private _error: string | null = null;
  private _loading = false;
  private _drawn = false;
  /** A draw was skipped while the map was hidden. */
  private _stale = false;
  /** The grid's zoomed longitude (x) and latitude (y) ranges; null for the whole grid. */
  private _gridRanges: { x: XRange; y: XRange } = { x: null, y: null };
  /** The grid request last made, so a zoom back to the same view does not fetch again. */
  private _gridRequest = '';
  /** The whole grid's extent, which the map is fitted to while zoomed. */
  private _extent: { lon: (number | null)[]; lat: (number | null)[] } | null =
    null;
  private _listening = false;
  private _zoomTimer = 0;
}

/** How long the map waits after a zoom or pan before fetching the visible grid. */
const ZOOM_DELAY_MS = 200;

function sameRange(a: XRange, b: XRange): boolean {
  return a === b || (!!a && !!b && a[0] === b[0] && a[1] === b[1]);
}

/** A tile map draws a grid as one polygon per cell: at most this many cells a side. */
const MAX_TILE_CELLS_SIDE = 150;

/** What the map shows first of a version's outputs: its lat/lon grid (its points drawn over it), else the newest. */
function firstToMap(datasets: readonly IDataset[]): IDataset | undefined {
  const mappable = mappableDatasets(datasets);
  return mappable.find(d => mapLayersOf(d)?.kind === 'grid') ?? mappable[0];
}

/** What the Colour choice offers: a dataset's lat/lon grids, else the variables its points can be coloured by. */
function colourVariables(dataset: IDataset | undefined): IVariable[] {
  const layers = dataset ? mapLayersOf(dataset) : null;
  if (!layers) {
    return [];
  }
  return layers.kind === 'grid'
    ? layers.grids.map(g => g.variable)
    : layers.geo.values;
}

/** A grid answer as a map raster: rows along latitude, columns along longitude. */
function gridOf(view: IDatasetGrid, variable: IVariable): IMapGrid {
  return {
    lon: view.x.values,
    lat: view.y.values,
    z: view.z.values,
    name: variable.name,
    unit: unitOf(variable),
    title: variableLabel(variable)
  };
}

/** A view of x = longitude, y = [latitude, variable?] as map points. */
function pointsOf(
  view: IDatasetView,
  latitude: string,
  variable: IVariable | null
): IMapPoints {
  const column = (name: string | undefined) =>
    view.y.find(c => c.name === name)?.values ?? null;
  return {
    lon: view.x.values,
    lat: column(latitude) ?? [],
    values: variable ? column(variable.name) : null,
    name: variable?.name ?? '',
    unit: unitOf(variable ?? undefined),
    title: variable ? variableLabel(variable) : ''
  };
}

interface IMapPanelProps {
  datasets: IDataset[];
  processes: { id: number; name: string }[];
  dataset: IDataset | undefined;
  variables: { name: string; label: string }[];
  variable: string | null;
  status: string;
  error: string | null;
  loading: boolean;
  tiles: boolean;
  graph: HTMLElement;
  onDataset(id: number): void;
  onVariable(name: string): void;
}

function MapPanel(props: IMapPanelProps): React.ReactElement {
  let hint = '';
  if (props.datasets.length === 0) {
    hint =
      'No dataset of this project has latitude and longitude: ' +
      'run a process that writes one (e.g. synthetic-survey).';
  } else if (!props.dataset) {
    hint = 'Choose a dataset.';
  }
  return (
    <div className="nf-Plot">
      <div className="nf-Plot-main">
        <div className="nf-Plot-bar">
          <label>
            Dataset
            <select
              className="nf-Select"
              data-testid="nf-map-dataset"
              value={props.dataset?.id ?? ''}
              onChange={e => props.onDataset(Number(e.currentTarget.value))}
              disabled={props.datasets.length === 0}
            >
              {!props.dataset && <option value="">–</option>}
              {props.datasets.map(d => (
                <option key={d.id} value={d.id}>
                  {datasetLabel(d, props.processes)}
                </option>
              ))}
            </select>
          </label>
          <label>
            Colour
            <select
              className="nf-Select"
              data-testid="nf-map-variable"
              value={props.variable ?? ''}
              onChange={e => props.onVariable(e.currentTarget.value)}
              disabled={props.variables.length === 0}
            >
              {props.variables.length === 0 && <option value="">none</option>}
              {props.variables.map(v => (
                <option key={v.name} value={v.name}>
                  {v.label}
                </option>
              ))}
            </select>
          </label>
          <span
            className="nf-Plot-status"
            data-testid="nf-map-status"
            role="status"
            aria-live="polite"
          >
            {props.loading ? 'loading…' : props.dataset ? props.status : ''}
          </span>
          <span className="nf-Map-source" data-testid="nf-map-basemap">
            {props.tiles ? 'tiles' : 'offline base map'}
          </span>
        </div>
        <GraphHost
          node={props.graph}
          testid="nf-map"
          error={props.error}
          hint={hint}
        />
      </div>
    </div>
  );
}
