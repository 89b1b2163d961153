/**
 * Plotly, loaded on first use: it is about 4 MB, so it lives in its own chunk
 * that only a window showing a plot or map downloads. Only the few calls the
 * views make are typed here; figures are plain JSON.
 */

export type Trace = Record<string, unknown>;
export type Layout = Record<string, unknown>;

export interface IFigure {
  data: Trace[];
  layout: Layout;
}

/** What Plotly adds to the div it draws into. */
export interface IGraphDiv extends HTMLDivElement {
  on(
    event: 'plotly_relayout',
    handler: (event: Record<string, unknown>) => void
  ): void;
  removeAllListeners?(event: string): void;
}

export interface IPlotlyApi {
  react(
    element: HTMLElement,
    data: Trace[],
    layout: Layout,
    config?: Record<string, unknown>
  ): Promise<IGraphDiv>;
  purge(element: HTMLElement): void;
  Plots: { resize(element: HTMLElement): Promise<void> | void };
}

let loading: Promise<IPlotlyApi> | null = null;

export function loadPlotly(): Promise<IPlotlyApi> {
  if (!loading) {
    loading = import('plotly.js-dist-min').then(
      module => (module.default ?? module) as IPlotlyApi
    );
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}

/** Plotly options common to both views: responsive to our own resize calls, no cloud links. */
export const PLOT_CONFIG: Record<string, unknown> = {
  displaylogo: false,
  responsive: false,
  showLink: false,
  scrollZoom: true,
  modeBarButtonsToRemove: ['sendDataToCloud', 'lasso2d', 'select2d']
};

/**
 * Runs a draw function one call at a time. Plotly must not `react` on a div
 * while a previous `react` is still loading (a map style, say); a request
 * during a draw makes exactly one more draw after it, with the latest state.
 */
export class SerialDraw {
  constructor(private readonly draw: () => Promise<void>) {}

  request(): Promise<void> {
    if (this._running) {
      this._again = true;
      return this._running;
    }
    this._running = this.draw().finally(() => {
      this._running = null;
      if (this._again) {
        this._again = false;
        void this.request();
      }
    });
    return this._running;
  }

  private _running: Promise<void> | null = null;
  private _again = false;
}
