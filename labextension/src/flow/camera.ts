/**
 * The flow view's pan and zoom: the transform from graph to screen, the size
 * of the drawing area (read once per resize: reading it after DOM changes
 * forces a layout), and whether to keep the whole graph fitted in view.
 */
import {
  IRect,
  ITransform,
  boundsOf,
  fitTransform,
  reveal,
  zoomAt
} from './geometry';

export interface IViewBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

export class FlowCamera {
  /**
   * @param _area - the element whose box is the view.
   * @param _apply - draws a new transform (and culls what it leaves out of view).
   */
  constructor(
    private readonly _area: Element,
    private readonly _apply: (t: ITransform) => void
  ) {}

  get transform(): ITransform {
    return this._transform;
  }

  /** The drawing area's box, measured once until `resized`. */
  viewBox(): IViewBox {
    if (this._box) {
      return this._box;
    }
    const { left, top, width, height } = this._area.getBoundingClientRect();
    const box = { left, top, width, height };
    if (width > 0 && height > 0) {
      this._box = box;
    }
    return box;
  }

  /** Forget the measured box (the view was resized or shown again). */
  resized(): void {
    this._box = null;
  }

  set(t: ITransform): void {
    this._transform = t;
    this._apply(t);
  }

  /** Fit `rects` in view (nothing without a size). */
  fit(rects: IRect[]): void {
    const { width, height } = this.viewBox();
    if (width > 0 && height > 0) {
      this.set(fitTransform(boundsOf(rects), width, height));
    }
  }

  /** Zoom by `factor` about the screen point (x, y) of the view; the view no longer fits itself. */
  zoomAt(factor: number, x: number, y: number): void {
    this.autoFit = false;
    this.set(zoomAt(this._transform, factor, x, y));
  }

  zoomCenter(factor: number): void {
    const { width, height } = this.viewBox();
    this.zoomAt(factor, width / 2, height / 2);
  }

  /** Shift by (dx, dy) pixels from `origin`; the view no longer fits itself. */
  panFrom(origin: ITransform, dx: number, dy: number): void {
    this.autoFit = false;
    this.set({ ...origin, x: origin.x + dx, y: origin.y + dy });
  }

  /** Pan as little as needed to bring `rect` into view. */
  reveal(rect: IRect): void {
    const { width, height } = this.viewBox();
    if (width === 0 || height === 0) {
      return;
    }
    const next = reveal(this._transform, rect, width, height);
    if (next.x !== this._transform.x || next.y !== this._transform.y) {
      this.autoFit = false;
      this.set(next);
    }
  }

  /** Keep the whole graph in view until the user pans or zooms. */
  autoFit = true;

  private _transform: ITransform = { x: 0, y: 0, k: 1 };
  private _box: IViewBox | null = null;
}
