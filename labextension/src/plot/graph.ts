/**
 * The plot view's graph: fetches each dataset's chosen variables decimated to
 * the plot's width, draws them with Plotly, fetches the visible range again at
 * full resolution when the user zooms, follows the panel's size and the theme.
 *
 * Series of one dataset along one dimension share a request (one x, several
 * y). Answers that arrive after the user moved on are dropped, so a slow
 * whole-range answer never overwrites a zoomed one.
 */
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';
import { ApiError, IDatasetGrid, IDatasetView, NagelfluhClient } from '../api';
import {
  buildGridFigure,
  gridQuery,
  gridStatusText,
  IResolvedGrid
} from './grid';
import { IGraphDiv, PLOT_CONFIG, IPlotlyApi } from './plotly';
import { PlotlyDiv } from './plotlydiv';
import { buildFigure, IPlotSeries, ISeriesLook } from './traces';
import {
  needsMorePoints,
  pointsFor,
  rangeChanges,
  statusText,
  IViewSummary,
  XRange
} from './zoom';

/** A series with everything needed to fetch and draw it, resolved from config and metadata. */
export interface IResolvedSeries extends ISeriesLook {
  dataset: number;
  variable: string;
  dimension: string;
  /** The dimension's coordinate variable; null plots against the index. */
  xVariable: string | null;
}

export interface IGraphStatus {
  loading: boolean;
  text: string;
  errors: string[];
}

interface IGroup {
  dataset: number;
  xVariable: string | null;
  xUnit: string;
  variables: string[];
}

interface IFetched {
  view: IDatasetView | null;
  error: string | null;
}

interface IFetchedGrid {
  view: IDatasetGrid | null;
  error: string | null;
}

function groupKey(s: Pick<IResolvedSeries, 'dataset' | 'dimension'>): string {
  return `${s.dataset}|${s.dimension}`;
}

export class SeriesGraph implements IDisposable {
  constructor(
    private readonly client: Pick<
      NagelfluhClient,
      'datasetView' | 'datasetGrid'
    >
  ) {
    this._div = new PlotlyDiv(
      'nf-plot-graph',
      () => this._drawNow(),
      () => this._onResize()
    );
  }

  get node(): HTMLDivElement {
    return this._div.node;
  }

  get statusChanged(): ISignal<this, IGraphStatus> {
    return this._statusChanged;
  }

  get status(): IGraphStatus {
    return this._status;
  }

  get isDisposed(): boolean {
    return this._div.isDisposed;
  }

  /**
   * Show these series, or the grid alone when one is given (a 2-D variable
   * gets its own figure); fetches only what is not already here.
   */
  setSeries(
    series: readonly IResolvedSeries[],
    grid: IResolvedGrid | null = null
  ): void {
    const signature = JSON.stringify(grid ? { grid } : series);
    if (signature === this._signature) {
      return;
    }
    this._signature = signature;
    const gridKey = grid ? JSON.stringify([grid.dataset, grid.variable]) : '';
    if (
      gridKey !==
      JSON.stringify(
        this._grid ? [this._grid.dataset, this._grid.variable] : ''
      )
    ) {
      this._gridRanges = { x: null, y: null };
    }
    this._grid = grid;
    if (grid) {
      this._series = [];
      this._refresh();
      return;
    }
    this._gridWanted = '';
    this._gridFetched = null;
    this._series = [...series];
    const units = new Set(series.map(s => s.xUnit));
    for (const unit of [...this._ranges.keys()]) {
      if (!units.has(unit)) {
        this._ranges.delete(unit);
      }
    }
    this._refresh();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._div.dispose();
    Signal.clearData(this);
  }

  private _groups(): Map<string, IGroup> {
    const groups = new Map<string, IGroup>();
    for (const s of this._series) {
      const key = groupKey(s);
      const group = groups.get(key) ?? {
        dataset: s.dataset,
        xVariable: s.xVariable,
        xUnit: s.xUnit,
        variables: []
      };
      if (!group.variables.includes(s.variable)) {
        group.variables.push(s.variable);
      }
      groups.set(key, group);
    }
    return groups;
  }

  /**
   * Fetch every group whose request changed and draw: now with what is here,
   * again as each answer arrives. Only the answer to a group's latest request
   * is kept.
   */
  private _refresh(): void {
    const width = this.node.clientWidth;
    if (width === 0) {
      return;
    }
    if (this._grid) {
      this._wanted.clear();
      this._fetched.clear();
      this._refreshGrid(this._grid);
      return;
    }
    this._points = Math.max(this._points, pointsFor(width));
    const groups = this._groups();
    for (const [key, group] of groups) {
      const range = this._ranges.get(group.xUnit) ?? null;
      const query = {
        x: group.xVariable ?? undefined,
        y: group.variables,
        points: this._points,
        x0: range?.[0],
        x1: range?.[1]
      };
      const request = JSON.stringify([group.dataset, query]);
      if (this._wanted.get(key) === request) {
        continue;
      }
      this._wanted.set(key, request);
      this._inflight++;
      const keep = (fetched: IFetched) => {
        if (this._wanted.get(key) === request) {
          this._fetched.set(key, fetched);
        }
      };
      this.client
        .datasetView(group.dataset, query)
        .then(
          view => keep({ view, error: null }),
          (error: unknown) => {
            const message =
              error instanceof ApiError ? error.message : String(error);
            keep({ view: null, error: `dataset ${group.dataset}: ${message}` });
            if (this._wanted.get(key) === request) {
              // Let the next refresh (a zoom, a resize, a change of series) try again.
              this._wanted.delete(key);
            }
          }
        )
        .finally(() => {
          this._inflight--;
          void this._div.redraw();
        });
    }
    for (const key of [...this._wanted.keys()]) {
      if (!groups.has(key)) {
        this._wanted.delete(key);
        this._fetched.delete(key);
      }
    }
    if (this._inflight > 0) {
      this._setStatus({ ...this._status, loading: true });
    }
    void this._div.redraw();
  }

  /** Fetch the grid at the plot's pixel size over the zoomed ranges, unless that is what is here. */
  private _refreshGrid(grid: IResolvedGrid): void {
    const size = {
      width: this.node.clientWidth,
      height: this.node.clientHeight || this.node.clientWidth
    };
    this._gridSize = {
      width: Math.max(this._gridSize.width, size.width),
      height: Math.max(this._gridSize.height, size.height)
    };
    const query = gridQuery(
      grid,
      this._gridSize,
      this._gridRanges.x,
      this._gridRanges.y
    );
    const request = JSON.stringify([grid.dataset, query]);
    if (this._gridWanted !== request) {
      this._gridWanted = request;
      this._inflight++;
      const keep = (fetched: IFetchedGrid) => {
        if (this._gridWanted === request) {
          this._gridFetched = fetched;
        }
      };
      this.client
        .datasetGrid(grid.dataset, query)
        .then(
          view => keep({ view, error: null }),
          (error: unknown) => {
            const message =
              error instanceof ApiError ? error.message : String(error);
            keep({ view: null, error: `dataset ${grid.dataset}: ${message}` });
            if (this._gridWanted === request) {
              this._gridWanted = '';
            }
          }
        )
        .finally(() => {
          this._inflight--;
          void this._div.redraw();
        });
    }
    if (this._inflight > 0) {
      this._setStatus({ ...this._status, loading: true });
    }
    void this._div.redraw();
  }

  private async _drawGrid(
    plotly: IPlotlyApi,
    grid: IResolvedGrid
  ): Promise<void> {
    const fetched = this._gridFetched;
    const errors: string[] = [];
    const size = {
      width: this.node.clientWidth,
      height: this.node.clientHeight
    };
    this._drawn = this._signature;
    this._xUnits = [];
    const view = fetched?.view;
    // A grid of another variable still on screen is not drawn under this one's title.
    if (
      view &&
      view.dataset === grid.dataset &&
      view.z.name === grid.variable
    ) {
      const revision = JSON.stringify(['grid', grid.dataset, grid.variable]);
      this._revision = revision;
      const figure = buildGridFigure(
        grid,
        view,
        this._div.theme,
        size,
        revision
      );
      try {
        const graph = await plotly.react(
          this.node,
          figure.data,
          figure.layout,
          PLOT_CONFIG
        );
        this._listen(graph);
      } catch (error) {
        errors.push(`The plot could not be drawn: ${error}`);
      }
    }
    if (fetched?.error) {
      errors.push(fetched.error);
    }
    this._setStatus({
      loading: this._inflight > 0,
      text: view ? gridStatusText(view) : '',
      errors
    });
  }

  private _listen(graph: IGraphDiv): void {
    if (!this._listening) {
      this._listening = true;
      graph.on('plotly_relayout', event => this._onRelayout(event));
    }
  }

  private _plotSeries(): IPlotSeries[] {
    const out: IPlotSeries[] = [];
    // What only the fetch needs is split off, so a drawn series carries its look alone.
    for (const { dataset, variable, dimension, xVariable, ...look } of this
      ._series) {
      const view = this._fetched.get(groupKey({ dataset, dimension }))?.view;
      const column = view?.y.find(c => c.name === variable);
      if (!view || !column) {
        continue;
      }
      out.push({ ...look, x: view.x.values, y: column.values });
    }
    return out;
  }

  private async _drawNow(): Promise<void> {
    if (this.isDisposed) {
      return;
    }
    if (this.node.clientWidth === 0) {
      return;
    }
    let plotly: IPlotlyApi;
    try {
      plotly = await this._div.load();
    } catch (error) {
      this._setStatus({
        loading: false,
        text: '',
        errors: [`Plotly did not load: ${error}`]
      });
      return;
    }
    if (this._grid) {
      await this._drawGrid(plotly, this._grid);
      return;
    }
    const series = this._plotSeries();
    // Plotly keeps the user's zoom while the x axes stay the same; new x axes start unzoomed.
    const revision = JSON.stringify([...new Set(series.map(s => s.xUnit))]);
    if (revision !== this._revision) {
      this._revision = revision;
      if (this._ranges.size > 0) {
        this._ranges.clear();
        this._refresh();
        return;
      }
    }
    const size = {
      width: this.node.clientWidth,
      height: this.node.clientHeight
    };
    const figure = buildFigure(series, this._div.theme, size, revision);
    this._xUnits = figure.xUnits;
    this._drawn = this._signature;
    const errors: string[] = [];
    try {
      const graph = await plotly.react(
        this.node,
        figure.data,
        figure.layout,
        PLOT_CONFIG
      );
      this._listen(graph);
    } catch (error) {
      errors.push(`The plot could not be drawn: ${error}`);
    }
    const views: IViewSummary[] = [];
    for (const fetched of this._fetched.values()) {
      if (fetched.view) {
        views.push({
          shown: fetched.view.x.values.length,
          inRange: fetched.view.in_range,
          total: fetched.view.total,
          decimated: fetched.view.decimated
        });
      }
      if (fetched.error) {
        errors.push(fetched.error);
      }
    }
    this._setStatus({
      loading: this._inflight > 0,
      text: statusText(views),
      errors
    });
  }

  private _onRelayout(event: Record<string, unknown>): void {
    if (this._grid) {
      this._onGridRelayout(event);
      return;
    }
    let changed = false;
    for (const [axis, range] of rangeChanges(event)) {
      const index =
        axis === 'xaxis' ? 0 : Number(axis.slice('xaxis'.length)) - 1;
      const unit = this._xUnits[index];
      if (unit === undefined) {
        continue;
      }
      const old = this._ranges.get(unit) ?? null;
      if (!sameRange(old, range)) {
        changed = true;
        if (range) {
          this._ranges.set(unit, range);
        } else {
          this._ranges.delete(unit);
        }
      }
    }
    if (changed) {
      this._refresh();
    }
  }

  /** A zoom or pan of the grid's x or y axis fetches the visible ranges; autorange the whole grid. */
  private _onGridRelayout(event: Record<string, unknown>): void {
    let changed = false;
    for (const direction of ['x', 'y'] as const) {
      const range = rangeChanges(event, direction);
      if (!range.has(`${direction}axis`)) {
        continue;
      }
      const next = range.get(`${direction}axis`) ?? null;
      if (!sameRange(this._gridRanges[direction], next)) {
        this._gridRanges = { ...this._gridRanges, [direction]: next };
        changed = true;
      }
    }
    if (changed) {
      this._refresh();
    }
  }

  private _onResize(): void {
    if (this._grid) {
      const grown =
        this.node.clientWidth > this._gridSize.width * 1.25 ||
        this.node.clientHeight > this._gridSize.height * 1.25;
      if (this._drawn !== this._signature || grown) {
        this._refresh();
      } else {
        void this._div.redraw();
      }
      return;
    }
    if (
      this._drawn !== this._signature ||
      needsMorePoints(this._points, this.node.clientWidth)
    ) {
      this._refresh();
    } else {
      void this._div.redraw();
    }
  }

  private _setStatus(status: IGraphStatus): void {
    this._status = status;
    this._statusChanged.emit(status);
  }

  private _series: IResolvedSeries[] = [];
  private _grid: IResolvedGrid | null = null;
  private _gridRanges: { x: XRange; y: XRange } = { x: null, y: null };
  private _gridSize = { width: 0, height: 0 };
  private _gridWanted = '';
  private _gridFetched: IFetchedGrid | null = null;
  private _signature = '';
  /** The request each group's answer must match to be kept. */
  private _wanted = new Map<string, string>();
  private _fetched = new Map<string, IFetched>();
  /** The series signature of the last draw: a hidden graph draws when it is shown. */
  private _drawn = '';
  private _ranges = new Map<string, XRange>();
  private _xUnits: string[] = [];
  /** Plotly's uirevision: the x units drawn. */
  private _revision = '';
  private _points = 0;
  private _inflight = 0;
  private _div: PlotlyDiv;
  private _listening = false;
  private _status: IGraphStatus = { loading: false, text: '', errors: [] };
  private _statusChanged = new Signal<this, IGraphStatus>(this);
}

function sameRange(a: XRange, b: XRange): boolean {
  return a === b || (!!a && !!b && a[0] === b[0] && a[1] === b[1]);
}
