/**
 * The keyboard on the flow graph: arrow keys move the focus to the nearest
 * process in that direction, Enter or Space selects the focused one, and the
 * focus moving into a node makes it the graph's tab stop.
 */
import { IDisposable } from '@lumino/disposable';
import { Direction, IRect, nearestInDirection } from './geometry';
import { isProcessNodeId } from './graph';
import type { IPoint } from './layout';
import type { FlowScene } from './scene';

const DIRECTIONS: Record<string, Direction> = {
  ArrowLeft: 'left',
  ArrowRight: 'right',
  ArrowUp: 'up',
  ArrowDown: 'down'
};

/** What the keys act on. */
export interface IKeyboardHost {
  readonly scene: FlowScene;
  /** Move the focus to node `id`. */
  focus(id: string): void;
  /** The focus entered node `id`. */
  focused(id: string): void;
  /** Enter or Space on node `id`. */
  activate(id: string): void;
}

export class FlowKeyboard implements IDisposable {
  /**
   * @param _area - where to listen: an HTML element, since Chrome makes an SVG
   *   element with a focus listener a tab stop.
   */
  constructor(
    private readonly _area: HTMLElement,
    private readonly _host: IKeyboardHost
  ) {
    _area.addEventListener('keydown', this._onKeyDown);
    _area.addEventListener('focusin', this._onFocusIn);
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  dispose(): void {
    this._disposed = true;
    this._area.removeEventListener('keydown', this._onKeyDown);
    this._area.removeEventListener('focusin', this._onFocusIn);
  }

  private _onKeyDown = (event: KeyboardEvent): void => {
    const id = this._host.scene.nodeAt(event.target);
    if (id === null) {
      return;
    }
    const direction = DIRECTIONS[event.key];
    if (direction) {
      event.preventDefault();
      const next = this._nearest(id, direction);
      if (next !== null) {
        this._host.focus(next);
      }
    } else if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      this._host.activate(id);
    }
  };

  private _onFocusIn = (event: FocusEvent): void => {
    const id = this._host.scene.nodeAt(event.target);
    if (id !== null) {
      this._host.focused(id);
    }
  };

  /** The process nearest to node `id` in `direction`, if any. */
  private _nearest(id: string, direction: Direction): string | null {
    const scene = this._host.scene;
    const from = scene.rect(id);
    if (!from) {
      return null;
    }
    const candidates: { id: string; center: IPoint }[] = [];
    for (const other of scene.ids()) {
      const rect =
        other !== id && isProcessNodeId(other) ? scene.rect(other) : undefined;
      if (rect) {
        candidates.push({ id: other, center: center(rect) });
      }
    }
    return nearestInDirection(center(from), candidates, direction);
  }

  private _disposed = false;
}

function center(rect: IRect): IPoint {
  return { x: rect.x + rect.width / 2, y: rect.y + rect.height / 2 };
}
