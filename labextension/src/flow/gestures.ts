/**
 * Mouse and touch on the flow graph: press and drag the background to pan,
 * press and drag a node to move it, click a node to select it, and turn the
 * wheel to zoom about the pointer.
 */
import { IDisposable } from '@lumino/disposable';
import type { IPoint } from './layout';
import type { ITransform } from './geometry';
import type { FlowCamera } from './camera';
import type { FlowScene } from './scene';

/** Pointer travel (px) that turns a press on a node into a drag instead of a click. */
const DRAG_THRESHOLD = 4;
/** Graphs with more nodes than this hide their labels while a zoom is going on. */
const LABELS_WHILE_ZOOMING = 300;

/** What the gestures act on. */
export interface IGestureHost {
  readonly scene: FlowScene;
  readonly camera: FlowCamera;
  /** Top-left corner of node `id`. */
  position(id: string): IPoint | undefined;
  /** Node `id` dragged to `point`; false if it cannot be moved now. */
  drag(id: string, point: IPoint): boolean;
  /** A drag ended: keep the positions. */
  dropped(): void;
  /** A node was clicked. */
  activate(id: string): void;
}

type Gesture =
  | {
      kind: 'pan';
      pointer: number;
      startX: number;
      startY: number;
      origin: ITransform;
    }
  | {
      kind: 'node';
      pointer: number;
      id: string;
      startX: number;
      startY: number;
      origin: IPoint;
      moved: boolean;
    };

export class FlowGestures implements IDisposable {
  constructor(private readonly _host: IGestureHost) {
    const svg = _host.scene.svg;
    svg.addEventListener('pointerdown', this._onPointerDown);
    svg.addEventListener('pointermove', this._onPointerMove);
    svg.addEventListener('pointerup', this._onPointerUp);
    svg.addEventListener('pointercancel', this._onPointerUp);
    svg.addEventListener('wheel', this._onWheel, { passive: false });
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    this._disposed = true;
    window.clearTimeout(this._zoomTimer);
    const svg = this._host.scene.svg;
    svg.removeEventListener('pointerdown', this._onPointerDown);
    svg.removeEventListener('pointermove', this._onPointerMove);
    svg.removeEventListener('pointerup', this._onPointerUp);
    svg.removeEventListener('pointercancel', this._onPointerUp);
    svg.removeEventListener('wheel', this._onWheel);
  }

  private _onPointerDown = (event: PointerEvent): void => {
    if (event.button !== 0 || this._gesture) {
      return;
    }
    const { scene, camera } = this._host;
    const id = scene.nodeAt(event.target);
    const origin = id === null ? undefined : this._host.position(id);
    const pointer = event.pointerId ?? 0;
    const start = { pointer, startX: event.clientX, startY: event.clientY };
    if (id !== null && origin) {
      this._gesture = { kind: 'node', ...start, id, origin, moved: false };
    } else {
      this._gesture = { kind: 'pan', ...start, origin: camera.transform };
      scene.svg.classList.add('nf-mod-panning');
    }
    try {
      scene.svg.setPointerCapture?.(pointer);
    } catch {
      // Synthetic events have no capturable pointer; moves still reach the svg.
    }
  };

  private _onPointerMove = (event: PointerEvent): void => {
    const gesture = this._gesture;
    if (!gesture) {
      return;
    }
    const { camera } = this._host;
    const dx = event.clientX - gesture.startX;
    const dy = event.clientY - gesture.startY;
    if (gesture.kind === 'pan') {
      camera.panFrom(gesture.origin, dx, dy);
      return;
    }
    if (!gesture.moved && Math.hypot(dx, dy) < DRAG_THRESHOLD) {
      return;
    }
    const k = camera.transform.k;
    const point = {
      x: gesture.origin.x + dx / k,
      y: gesture.origin.y + dy / k
    };
    if (this._host.drag(gesture.id, point)) {
      gesture.moved = true;
    }
  };

  private _onPointerUp = (event: PointerEvent): void => {
    const gesture = this._gesture;
    if (!gesture) {
      return;
    }
    this._gesture = null;
    const svg = this._host.scene.svg;
    svg.classList.remove('nf-mod-panning');
    try {
      svg.releasePointerCapture?.(gesture.pointer);
    } catch {
      // Nothing was captured.
    }
    if (gesture.kind !== 'node') {
      return;
    }
    if (gesture.moved) {
      this._host.dropped();
    } else if (event.type === 'pointerup') {
      this._host.activate(gesture.id);
    }
  };

  private _onWheel = (event: WheelEvent): void => {
    event.preventDefault();
    const { scene, camera } = this._host;
    const box = camera.viewBox();
    const scale =
      event.deltaMode === 1 ? 0.05 : event.deltaMode === 2 ? 1 : 0.0015;
    // A big graph drops its labels while the wheel turns: Chrome lays every visible SVG text out again at each step.
    if (scene.size > LABELS_WHILE_ZOOMING) {
      scene.svg.classList.add('nf-mod-zooming');
      window.clearTimeout(this._zoomTimer);
      this._zoomTimer = window.setTimeout(
        () => scene.svg.classList.remove('nf-mod-zooming'),
        200
      );
    }
    camera.zoomAt(
      Math.exp(-event.deltaY * scale),
      event.clientX - box.left,
      event.clientY - box.top
    );
  };

  private _gesture: Gesture | null = null;
  private _zoomTimer = 0;
  private _disposed = false;
}
