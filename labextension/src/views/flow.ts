/**
 * The Flow view: the active project's processes as a layered graph, linked by
 * the datasets they exchange, coloured by state and kept live.
 *
 * Drawn in SVG rather than canvas: nodes stay real, focusable, labelled
 * elements (keyboard, screen readers, end-to-end selectors) with no parallel
 * accessibility overlay to keep in sync. It stays fast at thousands of
 * processes because the DOM work is small (see `FlowScene`). Store changes are
 * coalesced to one update per animation frame, and the layout only runs again
 * when the set of nodes or edges changes.
 *
 * This widget composes the parts in src/flow/: the toolbar, the scene (what is
 * drawn), the camera (pan and zoom), the gestures and keyboard, the dragged
 * positions (kept in the state database) and the message shown instead of a
 * graph. It owns what ties them together: the graph, its layout, the selection.
 */
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { CommandRegistry } from '@lumino/commands';
import { Message } from '@lumino/messaging';
import { ISignal } from '@lumino/signaling';
import { PanelLayout, Widget } from '@lumino/widgets';
import { CommandIds } from '../commands';
import { INagelfluhContext } from '../context';
import { Selection } from '../selection';
import { ProjectStore } from '../store';
import { FlowCamera } from '../flow/camera';
import type { ITransform } from '../flow/geometry';
import { FlowGestures } from '../flow/gestures';
import {
  IFlowGraph,
  buildGraph,
  edgeKey,
  edgesKey,
  isProcessNodeId,
  layoutKey,
  nodeSize,
  processNodeId
} from '../flow/graph';
import { FlowKeyboard } from '../flow/keyboard';
import { ILayout, IPoint, layout } from '../flow/layout';
import { FlowMessage } from '../flow/message';
import { DraggedPositions, PositionsDB } from '../flow/positions';
import { FlowScene } from '../flow/scene';
import { FlowToolbar } from '../flow/toolbar';

export { POSITIONS_KEY } from '../flow/positions';

const ZOOM_STEP = 1.25;

/** What the flow view uses of the extension's context. */
export interface IFlowContext {
  readonly store: Pick<
    ProjectStore,
    'processes' | 'dataset' | 'loading' | 'error'
  > & { readonly changed: ISignal<unknown, void> };
  readonly selection: Selection;
  /** Where dragged positions are kept; none keeps them as long as the view. */
  readonly state: PositionsDB | null;
  readonly app: { readonly commands: Pick<CommandRegistry, 'execute'> };
}

export function create(
  ctx: INagelfluhContext,
  _args: ReadonlyPartialJSONObject
): Widget {
  return new FlowView(ctx);
}

export class FlowView extends Widget {
  constructor(ctx: IFlowContext) {
    super();
    this._ctx = ctx;
    this.addClass('nf-Flow');
    this.title.label = 'Flow';
    this.title.caption =
      'Processes of the active project, linked by the datasets they exchange';

    this._positions = new DraggedPositions(ctx.state, () => {
      this._layoutKey = '';
      this._schedule();
    });
    this._scene = new FlowScene({
      position: id => this._position(id),
      route: (from, to) => this._route(from, to)
    });
    this._camera = new FlowCamera(this._scene.svg, t => this._draw(t));
    this._message = new FlowMessage(
      () => void ctx.app.commands.execute(CommandIds.newProcess)
    );
    this._toolbar = new FlowToolbar({
      fit: () => {
        this._camera.autoFit = true;
        this._fit();
      },
      zoomIn: () => this._camera.zoomCenter(ZOOM_STEP),
      zoomOut: () => this._camera.zoomCenter(1 / ZOOM_STEP),
      relayout: () => this._relayout()
    });

    const stage = document.createElement('div');
    stage.className = 'nf-Flow-stage';
    stage.append(this._scene.svg, this._message.node);
    const panel = new PanelLayout();
    panel.addWidget(this._toolbar);
    panel.addWidget(new Widget({ node: stage }));
    this.layout = panel;

    this._gestures = new FlowGestures({
      scene: this._scene,
      camera: this._camera,
      position: id => this._position(id),
      drag: (id, point) => this._drag(id, point),
      dropped: () => this._savePositions(),
      activate: id => this._activate(id)
    });
    this._keyboard = new FlowKeyboard(stage, {
      scene: this._scene,
      focus: id => this._focus(id),
      focused: id => {
        this._focusId = id;
        this._updateTabStop();
      },
      activate: id => this._activate(id)
    });

    ctx.store.changed.connect(this._onStoreChanged, this);
    ctx.selection.changed.connect(this._onSelectionChanged, this);
    this._schedule();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._ctx.store.changed.disconnect(this._onStoreChanged, this);
    this._ctx.selection.changed.disconnect(this._onSelectionChanged, this);
    if (this._frame) {
      cancelAnimationFrame(this._frame);
    }
    this._gestures.dispose();
    this._keyboard.dispose();
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._camera.resized();
    this._schedule();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._camera.resized();
    if (this._camera.autoFit) {
      this._fitPending = true;
      this._schedule();
    }
  }

  private _onStoreChanged(): void {
    this._schedule();
  }

  private _onSelectionChanged(): void {
    this._applySelection(!this._selecting);
  }

  /**
   * One update per animation frame, whatever the number of store events in
   * between: `graph` rebuilds the graph from the store (laying it out only if
   * its nodes or links changed), `edges` only redraws the links.
   */
  private _schedule(what: 'graph' | 'edges' = 'graph'): void {
    if (what === 'graph') {
      this._dirty = true;
    } else {
      this._edgesDirty = true;
    }
    if (this._frame) {
      return;
    }
    this._frame = requestAnimationFrame(() => {
      if (this.isVisible) {
        // Read the view's box before changing the DOM, which would force a layout.
        this._camera.viewBox();
        if (this._dirty) {
          this._dirty = false;
          this._update();
        }
        if (this._fitPending) {
          this._fitPending = false;
          this._fit();
        }
        if (this._edgesDirty) {
          this._edgesDirty = false;
          this._scene.drawEdges(this._graph, this._selectedId);
        }
      }
      this._frame = 0;
    });
  }

  private _update(): void {
    const { store, selection } = this._ctx;
    const project = selection.project;
    if (project !== this._project) {
      this._project = project;
      this._camera.autoFit = true;
    }
    if (project !== null && !this._positions.ready(project)) {
      return;
    }
    const graph = buildGraph(store.processes, id => store.dataset(id));
    this._graph = graph;
    this._message.update(store, project, graph);
    const key = layoutKey(graph);
    if (key !== this._layoutKey) {
      this._layoutKey = key;
      this._placement = layout(
        graph.nodes.map(node => ({ id: node.id, ...nodeSize(node) })),
        graph.edges
      );
      this._scene.reconcile(graph);
      this._scene.placeAll();
      this._fitPending = this._fitPending || this._camera.autoFit;
      this._edgesDirty = true;
      this._cull();
    }
    for (const node of graph.nodes) {
      this._scene.patch(node);
    }
    const edges = edgesKey(graph);
    if (edges !== this._edgesKey) {
      this._edgesKey = edges;
      this._edgesDirty = true;
    }
    this._toolbar.showCounts(graph);
    this._applySelection(false);
  }

  /** A dragged position when the user moved the node, else the layout's. */
  private _position(id: string): IPoint | undefined {
    return (
      this._positions.get(this._project, id) ??
      this._placement?.positions.get(id)
    );
  }

  /** The layout's bends of a link, none once either end was dragged. */
  private _route(from: string, to: string): IPoint[] {
    const dragged =
      this._positions.get(this._project, from) ??
      this._positions.get(this._project, to);
    return dragged
      ? []
      : (this._placement?.routes.get(edgeKey(from, to)) ?? []);
  }

  /** Node `id` dragged to `point`; false without a project to keep it in. */
  private _drag(id: string, point: IPoint): boolean {
    if (this._project === null) {
      return false;
    }
    this._positions.set(this._project, id, point);
    this._scene.place(id);
    if (id === this._selectedId) {
      this._scene.placeHalo(this._selectedId);
    }
    this._schedule('edges');
    return true;
  }

  private _savePositions(): void {
    if (this._project !== null) {
      this._positions.save(this._project, id => this._scene.has(id));
    }
  }

  private _relayout(): void {
    if (this._project === null) {
      return;
    }
    this._positions.clear(this._project);
    this._scene.placeAll();
    this._camera.autoFit = true;
    this._fit();
    this._schedule('edges');
  }

  /** Highlight the selected process; `follow` pans to it when it was chosen elsewhere and is out of view. */
  private _applySelection(follow: boolean): void {
    const process = this._ctx.selection.process;
    const id = process === null ? null : processNodeId(process);
    if (id !== this._selectedId) {
      if (this._selectedId !== null) {
        this._scene.setSelected(this._selectedId, false);
      }
      this._selectedId = id;
      this._schedule('edges');
    }
    if (id !== null) {
      this._scene.setSelected(id, true);
    }
    this._scene.placeHalo(this._selectedId);
    this._updateTabStop();
    if (follow && id !== null) {
      this._reveal(id);
    }
  }

  /** Roving tab stop: Tab enters the graph at the focused, selected or first process. */
  private _updateTabStop(): void {
    const first =
      this._graph?.nodes.find(node => node.kind === 'process')?.id ?? null;
    const target =
      [this._focusId, this._selectedId, first].find(
        id => id !== null && isProcessNodeId(id) && this._scene.has(id)
      ) ?? null;
    if (target !== this._tabStop) {
      this._scene.moveTabStop(this._tabStop, target);
      this._tabStop = target;
    }
  }

  private _reveal(id: string): void {
    const rect = this._scene.rect(id);
    if (rect) {
      this._camera.reveal(rect);
    }
  }

  private _fit(): void {
    this._camera.fit(this._scene.rects());
  }

  /** Draw a new pan and zoom, then hide what it leaves far out of view. */
  private _draw(t: ITransform): void {
    this._scene.setTransform(t);
    this._cull();
  }

  private _cull(): void {
    const { width, height } = this._camera.viewBox();
    this._scene.cull(this._camera.transform, width, height, this._tabStop);
  }

  private _focus(id: string): void {
    this._focusId = id;
    this._updateTabStop();
    this._reveal(id);
    this._scene.focus(id);
  }

  /** Click or Enter on a process: it becomes the selection of every view. */
  private _activate(id: string): void {
    const node = this._graph?.nodes.find(n => n.id === id);
    if (node?.kind !== 'process') {
      return;
    }
    this._focusId = id;
    this._selecting = true;
    try {
      this._ctx.selection.select(node.processId);
    } finally {
      this._selecting = false;
    }
    this._applySelection(false);
  }

  private readonly _ctx: IFlowContext;
  private readonly _toolbar: FlowToolbar;
  private readonly _scene: FlowScene;
  private readonly _camera: FlowCamera;
  private readonly _message: FlowMessage;
  private readonly _gestures: FlowGestures;
  private readonly _keyboard: FlowKeyboard;
  private readonly _positions: DraggedPositions;
  private _graph: IFlowGraph | null = null;
  private _placement: ILayout | null = null;
  private _layoutKey = '';
  private _edgesKey = '';
  private _project: number | null = null;
  private _fitPending = false;
  private _frame = 0;
  private _dirty = false;
  private _edgesDirty = false;
  private _selectedId: string | null = null;
  private _focusId: string | null = null;
  private _tabStop: string | null = null;
  private _selecting = false;
}
