/**
 * The div a view draws its Plotly figure into, with what the plot and the map
 * view both need around it: Plotly loaded on first use, one draw at a time, a
 * redraw in the new colours when JupyterLab switches theme, and a resize
 * reported once a frame, only while the div is shown (a hidden panel has no
 * size to draw at).
 */
import { IDisposable } from '@lumino/disposable';
import { loadPlotly, IPlotlyApi, SerialDraw } from './plotly';
import { readTheme, ITheme, watchTheme } from './theme';

export class PlotlyDiv implements IDisposable {
  /** `draw` makes the figure; `resized` hears that the shown div changed size. */
  constructor(testid: string, draw: () => Promise<void>, resized: () => void) {
    this.node = document.createElement('div');
    this.node.className = 'nf-Plot-graph';
    this.node.dataset.testid = testid;
    this._drawing = new SerialDraw(draw);
    this._theme = readTheme();
    this._themeWatch = watchTheme(theme => {
      this._theme = theme;
      void this.redraw();
    });
    this._resize = new ResizeObserver(() => {
      cancelAnimationFrame(this._frame);
      this._frame = requestAnimationFrame(() => {
        if (this.node.clientWidth > 0 && !this._disposed) {
          resized();
        }
      });
    });
    this._resize.observe(this.node);
  }

  readonly node: HTMLDivElement;

  get theme(): ITheme {
    return this._theme;
  }

  /** Plotly once a draw has loaded it, else null. */
  get plotly(): IPlotlyApi | null {
    return this._plotly;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  async load(): Promise<IPlotlyApi> {
    this._plotly = this._plotly ?? (await loadPlotly());
    return this._plotly;
  }

  /** Draw now, or once more after the draw under way. */
  redraw(): Promise<void> {
    return this._drawing.request();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._resize.disconnect();
    this._themeWatch.dispose();
    cancelAnimationFrame(this._frame);
    this._plotly?.purge(this.node);
  }

  private _drawing: SerialDraw;
  private _plotly: IPlotlyApi | null = null;
  private _theme: ITheme;
  private _themeWatch: IDisposable;
  private _resize: ResizeObserver;
  private _frame = 0;
  private _disposed = false;
}
