/**
 * The Flow view: the active project's processes as a layered graph, linked by
 * the datasets they exchange, coloured by state and kept live.
 *
 * Drawn in SVG rather than canvas: nodes stay real, focusable, labelled
 * elements (keyboard, screen readers, end-to-end selectors) with no parallel
 * accessibility overlay to keep in sync. It stays fast at thousands of
 * processes because the DOM work is small: one <g> per node, created once and
 * patched in place; all edges in six <path>s (lines and arrow heads, for
 * current, older and selected links); pan and zoom change one transform; and
 * labels are hidden when zoomed out too far to read them. Store changes are
 * coalesced to one update per animation frame, and the layout only runs again
 * when the set of nodes or edges changes.
 */
import {
  ReadonlyPartialJSONValue,
  ReadonlyPartialJSONObject
} from '@lumino/coreutils';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import { CommandIds } from '../commands';
import { INagelfluhContext } from '../context';
import { badgeColor, badgeText } from '../states';
import {
  DATASET_SIZE,
  IFlowGraph,
  FlowNode,
  buildGraph,
  edgeKey,
  edgesKey,
  isProcessNodeId,
  layoutKey,
  nodeSize,
  PROCESS_SIZE,
  processNodeId
} from '../flow/graph';
import { ILayout, IPoint, layout } from '../flow/layout';
import {
  Direction,
  IRect,
  ITransform,
  boundsOf,
  edgePath,
  fitTransform,
  nearestInDirection,
  reveal,
  zoomAt
} from '../flow/geometry';

const SVG_NS = 'http://www.w3.org/2000/svg';
/** IStateDB key of the dragged positions of one project's nodes. */
export const POSITIONS_KEY = 'nagelfluh-lab:flow-positions:';
/** Below this zoom labels are unreadable anyway, and they are the costliest to paint. */
const FAR_ZOOM = 0.55;
/** Pointer travel (px) that turns a press on a node into a drag instead of a click. */
const DRAG_THRESHOLD = 4;
const ZOOM_STEP = 1.25;
/** Graphs with more nodes than this hide their labels while a zoom is going on. */
const LABELS_WHILE_ZOOMING = 300;
const PILL_WIDTH = 70;

/** Dragged node positions of a project: node id → top-left corner. */
type Positions = Record<string, [number, number]>;

interface INodeView {
  g: SVGGElement;
  title: SVGTitleElement;
  name: SVGTextElement | SVGTSpanElement;
  /** Process nodes only: version number, type line, state label and the progress bar while running. */
  version: SVGTSpanElement | null;
  type: SVGTextElement | null;
  state: SVGTextElement | null;
  progress: SVGRectElement | null;
  /** What is drawn, to write to the DOM only what changed. */
  drawn: FlowNode | null;
  /** Hidden because it is far outside the view. */
  culled: boolean;
  width: number;
  height: number;
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

type EdgeClass = 'current' | 'old' | 'selected';

export function create(
  ctx: INagelfluhContext,
  _args: ReadonlyPartialJSONObject
): Widget {
  return new FlowView(ctx);
}

export class FlowView extends Widget {
  constructor(ctx: INagelfluhContext) {
    super();
    this._ctx = ctx;
    this.addClass('nf-Flow');
    this.title.label = 'Flow';
    this.title.caption =
      'Processes of the active project, linked by the datasets they exchange';

    const toolbar = document.createElement('div');
    toolbar.className = 'nf-Flow-toolbar';
    toolbar.setAttribute('role', 'toolbar');
    toolbar.setAttribute('aria-label', 'Flow graph');
    toolbar.append(
      this._button('nf-flow-fit', 'Fit', 'Fit the whole graph in view', () => {
        this._autoFit = true;
        this._fit();
      }),
      this._button('nf-flow-zoom-in', '+', 'Zoom in', () =>
        this._zoomCenter(ZOOM_STEP)
      ),
      this._button('nf-flow-zoom-out', '−', 'Zoom out', () =>
        this._zoomCenter(1 / ZOOM_STEP)
      ),
      this._button(
        'nf-flow-relayout',
        'Re-layout',
        'Forget dragged positions and lay the graph out again',
        () => this._relayout()
      ),
      this._status
    );
    this._status.className = 'nf-Flow-status';

    const stage = document.createElement('div');
    stage.className = 'nf-Flow-stage';
    this._svg.classList.add('nf-Flow-svg');
    this._svg.dataset.testid = 'nf-flow';
    this._svg.setAttribute('aria-label', 'Process flow graph');
    this._svg.setAttribute('role', 'group');
    this._viewport.classList.add('nf-Flow-viewport');
    const edges = svg('g', { class: 'nf-Flow-edges', 'aria-hidden': 'true' });
    for (const kind of ['old', 'current', 'selected'] as EdgeClass[]) {
      const line = svg('path', { class: `nf-Flow-edge nf-mod-${kind}` });
      const head = svg('path', { class: `nf-Flow-head nf-mod-${kind}` });
      this._paths.set(kind, { line, head });
      edges.append(line, head);
    }
    this._halo.classList.add('nf-Flow-halo');
    this._halo.setAttribute('aria-hidden', 'true');
    this._halo.style.display = 'none';
    this._datasets.classList.add('nf-Flow-datasets');
    this._datasets.setAttribute('role', 'group');
    this._datasets.setAttribute(
      'aria-label',
      'Input datasets not made by a process'
    );
    this._nodes.classList.add('nf-Flow-nodes');
    this._nodes.setAttribute('role', 'listbox');
    this._nodes.setAttribute('aria-label', 'Processes');
    this._viewport.append(this._halo, edges, this._datasets, this._nodes);
    this._svg.append(this._viewport);
    this._message.className = 'nf-Flow-message';
    this._message.dataset.testid = 'nf-flow-message';
    stage.append(this._svg, this._message);
    this.node.append(toolbar, stage);

    this._svg.addEventListener('pointerdown', this._onPointerDown);
    this._svg.addEventListener('pointermove', this._onPointerMove);
    this._svg.addEventListener('pointerup', this._onPointerUp);
    this._svg.addEventListener('pointercancel', this._onPointerUp);
    this._svg.addEventListener('wheel', this._onWheel, { passive: false });
    // On the HTML stage, not on SVG elements: Chrome makes an SVG element with a focus listener a tab stop.
    stage.addEventListener('keydown', this._onKeyDown);
    stage.addEventListener('focusin', this._onFocusIn);

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
    window.clearTimeout(this._zoomTimer);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._size = null;
    this._schedule();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._size = null;
    if (this._autoFit) {
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
        this._viewSize();
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
          this._drawEdges();
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
      this._autoFit = true;
    }
    if (project !== null && !this._positions.has(project)) {
      this._loadPositions(project);
      return;
    }
    const graph = buildGraph(store.processes, id => store.dataset(id));
    this._graph = graph;
    this._showMessage(graph);
    const key = layoutKey(graph);
    if (key !== this._layoutKey) {
      this._layoutKey = key;
      this._placement = layout(
        graph.nodes.map(node => ({ id: node.id, ...nodeSize(node) })),
        graph.edges
      );
      this._reconcile(graph);
      for (const id of this._views.keys()) {
        this._place(id);
      }
      this._fitPending = this._fitPending || this._autoFit;
      this._edgesDirty = true;
      this._cull();
    }
    for (const node of graph.nodes) {
      this._patch(node);
    }
    const edges = edgesKey(graph);
    if (edges !== this._edgesKey) {
      this._edgesKey = edges;
      this._edgesDirty = true;
    }
    const processes = graph.nodes.filter(
      node => node.kind === 'process'
    ).length;
    const status =
      graph.nodes.length === 0
        ? ''
        : `${plural(processes, 'process', 'processes')} · ${plural(graph.edges.length, 'link', 'links')}`;
    if (this._status.textContent !== status) {
      this._status.textContent = status;
    }
    this._applySelection(false);
  }

  private _showMessage(graph: IFlowGraph): void {
    const { store, selection } = this._ctx;
    let text = '';
    if (store.error && graph.nodes.length === 0) {
      text = `Could not load the processes: ${store.error}`;
    } else if (selection.project === null) {
      text = 'No project is selected.';
    } else if (graph.nodes.length === 0) {
      text = store.loading
        ? 'Loading processes…'
        : 'This project has no processes yet.';
    }
    const offerNew =
      text !== '' &&
      selection.project !== null &&
      !store.loading &&
      !store.error;
    const shown = `${text}|${offerNew}`;
    if (shown === this._messageShown) {
      return;
    }
    this._messageShown = shown;
    this._message.replaceChildren();
    this._message.hidden = text === '';
    if (!text) {
      return;
    }
    const paragraph = document.createElement('p');
    paragraph.textContent = text;
    this._message.append(paragraph);
    if (offerNew) {
      const button = document.createElement('button');
      button.className = 'jp-Button nf-Button nf-primary';
      button.dataset.testid = 'nf-flow-new-process';
      button.textContent = 'New process';
      button.addEventListener(
        'click',
        () => void this._ctx.app.commands.execute(CommandIds.newProcess)
      );
      this._message.append(button);
    }
  }

  /** Create views for new nodes and drop those of nodes that are gone. */
  private _reconcile(graph: IFlowGraph): void {
    const present = new Set(graph.nodes.map(node => node.id));
    for (const [id, view] of this._views) {
      if (!present.has(id)) {
        view.g.remove();
        this._views.delete(id);
      }
    }
    for (const node of graph.nodes) {
      if (!this._views.has(node.id)) {
        const view =
          node.kind === 'process'
            ? this._processView(node.processId)
            : this._datasetView(node.datasetId);
        view.g.dataset.nodeId = node.id;
        this._views.set(node.id, view);
        (node.kind === 'process' ? this._nodes : this._datasets).append(view.g);
      }
    }
  }

  private _processView(process: number): INodeView {
    const { width, height } = PROCESS_SIZE;
    const g = svg('g', {
      class: 'nf-FlowNode',
      'data-testid': 'nf-flow-node',
      'data-process-id': String(process),
      role: 'option',
      tabindex: '-1',
      'aria-selected': 'false'
    });
    const title = svg('title', {});
    const name = svg('tspan', {});
    const version = svg('tspan', { class: 'nf-FlowNode-version', dx: '6' });
    const heading = svg('text', {
      class: 'nf-FlowNode-name',
      x: '14',
      y: '22'
    });
    heading.append(name, version);
    const type = svg('text', { class: 'nf-FlowNode-type', x: '14', y: '43' });
    const state = svg('text', {
      class: 'nf-FlowNode-state',
      x: String(width - 8 - PILL_WIDTH / 2),
      y: '43'
    });
    g.append(
      title,
      svg('rect', {
        class: 'nf-FlowNode-body',
        width: String(width),
        height: String(height),
        rx: '6'
      }),
      svg('rect', {
        class: 'nf-FlowNode-stripe',
        x: '0.75',
        y: '0.75',
        width: '5',
        height: String(height - 1.5)
      }),
      heading,
      type,
      svg('rect', {
        class: 'nf-FlowNode-pill',
        x: String(width - 8 - PILL_WIDTH),
        y: '31',
        width: String(PILL_WIDTH),
        height: '16',
        rx: '8'
      }),
      state
    );
    return {
      g,
      title,
      name,
      version,
      type,
      state,
      progress: null,
      drawn: null,
      culled: false,
      width,
      height
    };
  }

  private _datasetView(dataset: number): INodeView {
    const { width, height } = DATASET_SIZE;
    const g = svg('g', {
      class: 'nf-FlowDataset',
      'data-testid': 'nf-flow-dataset',
      'data-dataset-id': String(dataset),
      role: 'img'
    });
    const title = svg('title', {});
    const name = svg('text', {
      class: 'nf-FlowDataset-name',
      x: String(width / 2),
      y: String(height / 2 + 4)
    });
    g.append(
      title,
      svg('rect', {
        class: 'nf-FlowDataset-body',
        width: String(width),
        height: String(height),
        rx: String(height / 2)
      }),
      name
    );
    return {
      g,
      title,
      name,
      version: null,
      type: null,
      state: null,
      progress: null,
      drawn: null,
      culled: false,
      width,
      height
    };
  }

  /** Write into a node's DOM only what changed since it was last drawn. */
  private _patch(node: FlowNode): void {
    const view = this._views.get(node.id);
    if (!view) {
      return;
    }
    const was = view.drawn;
    view.drawn = node;
    if (node.kind === 'dataset') {
      if (was?.kind !== 'dataset' || was.name !== node.name) {
        view.name.textContent = clip(node.name, 20);
        view.title.textContent = `${node.name} (dataset ${node.datasetId})`;
        view.g.setAttribute('aria-label', `Dataset ${node.name}`);
      }
      return;
    }
    const old = was?.kind === 'process' ? was : null;
    if (old?.badge !== node.badge) {
      view.g.dataset.state = node.badge;
      view.g.style.setProperty('--nf-state', badgeColor(node.badge));
    }
    if (old?.name !== node.name) {
      view.name.textContent = clip(node.name, 20);
    }
    if (old?.version !== node.version) {
      view.version!.textContent =
        node.version === null ? '' : `v${node.version}`;
    }
    if (old?.type !== node.type) {
      view.type!.textContent = clip(node.type, 17);
    }
    const percent =
      node.progress === null ? '' : ` ${Math.round(node.progress * 100)}%`;
    const label = node.badge === 'none' ? 'no run' : badgeText(node.badge);
    if (old?.badge !== node.badge || old?.progress !== node.progress) {
      view.state!.textContent = label + percent;
      this._progress(view, node.progress);
    }
    if (
      old?.badge !== node.badge ||
      old?.progress !== node.progress ||
      old?.name !== node.name ||
      old?.type !== node.type ||
      old?.version !== node.version ||
      old?.message !== node.message
    ) {
      const version = node.version === null ? '' : `, version ${node.version}`;
      view.g.setAttribute(
        'aria-label',
        `${node.name}, ${node.type}${version}, ${label}${percent}`
      );
      view.title.textContent =
        `${node.name} (${node.type}${version})\n${label}${percent}` +
        (node.message ? `\n${node.message}` : '');
    }
  }

  /** The thin bar along a running node's bottom edge. */
  private _progress(view: INodeView, progress: number | null): void {
    if (progress === null) {
      view.progress?.remove();
      view.progress = null;
      return;
    }
    if (!view.progress) {
      view.progress = svg('rect', {
        class: 'nf-FlowNode-progress',
        x: '6',
        y: String(view.height - 5),
        height: '3',
        rx: '1.5'
      });
      view.g.append(view.progress);
    }
    const fraction = Math.min(1, Math.max(0, progress));
    view.progress.setAttribute(
      'width',
      String(Math.round(fraction * (view.width - 12) * 10) / 10)
    );
  }

  /** A dragged position when the user moved the node, else the layout's. */
  private _position(id: string): IPoint | undefined {
    const saved =
      this._project === null
        ? undefined
        : this._positions.get(this._project)?.[id];
    return saved
      ? { x: saved[0], y: saved[1] }
      : this._placement?.positions.get(id);
  }

  private _rect(id: string): IRect | undefined {
    const view = this._views.get(id);
    const point = this._position(id);
    return view && point
      ? { x: point.x, y: point.y, width: view.width, height: view.height }
      : undefined;
  }

  private _place(id: string): void {
    const view = this._views.get(id);
    const point = this._position(id);
    if (view && point) {
      view.g.setAttribute('transform', `translate(${point.x} ${point.y})`);
    }
  }

  private _isDragged(id: string): boolean {
    return (
      this._project !== null &&
      this._positions.get(this._project)?.[id] !== undefined
    );
  }

  private _drawEdges(): void {
    const graph = this._graph;
    const parts: Record<EdgeClass, { line: string[]; head: string[] }> = {
      old: { line: [], head: [] },
      current: { line: [], head: [] },
      selected: { line: [], head: [] }
    };
    const selected = this._selectedId;
    for (const edge of graph?.edges ?? []) {
      const from = this._rect(edge.from);
      const to = this._rect(edge.to);
      if (!from || !to) {
        continue;
      }
      const routed = !this._isDragged(edge.from) && !this._isDragged(edge.to);
      const bends = routed
        ? (this._placement?.routes.get(edgeKey(edge.from, edge.to)) ?? [])
        : [];
      const path = edgePath(from, to, bends);
      const kind: EdgeClass =
        selected !== null && (edge.from === selected || edge.to === selected)
          ? 'selected'
          : edge.current
            ? 'current'
            : 'old';
      parts[kind].line.push(path.line);
      parts[kind].head.push(path.head);
    }
    for (const [kind, { line, head }] of this._paths) {
      setIfChanged(line, 'd', parts[kind].line.join(''));
      setIfChanged(head, 'd', parts[kind].head.join(''));
    }
    this._placeHalo();
  }

  /** Highlight the selected process; `follow` pans to it when it was chosen elsewhere and is out of view. */
  private _applySelection(follow: boolean): void {
    const process = this._ctx.selection.process;
    const id = process === null ? null : processNodeId(process);
    if (id !== this._selectedId) {
      const before =
        this._selectedId === null
          ? undefined
          : this._views.get(this._selectedId);
      before?.g.classList.remove('nf-selected');
      before?.g.setAttribute('aria-selected', 'false');
      this._selectedId = id;
      this._schedule('edges');
    }
    const view = id === null ? undefined : this._views.get(id);
    if (view && !view.g.classList.contains('nf-selected')) {
      view.g.classList.add('nf-selected');
      view.g.setAttribute('aria-selected', 'true');
    }
    this._placeHalo();
    this._updateTabStop();
    if (follow && id !== null) {
      this._reveal(id);
    }
  }

  private _placeHalo(): void {
    const rect =
      this._selectedId === null ? undefined : this._rect(this._selectedId);
    this._halo.style.display = rect ? '' : 'none';
    if (rect) {
      this._halo.setAttribute('x', String(rect.x - 5));
      this._halo.setAttribute('y', String(rect.y - 5));
      this._halo.setAttribute('width', String(rect.width + 10));
      this._halo.setAttribute('height', String(rect.height + 10));
    }
  }

  /** Roving tab stop: Tab enters the graph at the focused, selected or first process. */
  private _updateTabStop(): void {
    const candidates = [this._focusId, this._selectedId, this._firstProcess()];
    const target =
      candidates.find(
        id => id !== null && isProcessNodeId(id) && this._views.has(id)
      ) ?? null;
    if (target === this._tabStop) {
      return;
    }
    if (this._tabStop !== null) {
      this._views.get(this._tabStop)?.g.setAttribute('tabindex', '-1');
    }
    this._tabStop = target;
    const view = target === null ? undefined : this._views.get(target);
    if (view) {
      view.g.setAttribute('tabindex', '0');
      view.culled = false;
      view.g.style.display = '';
    }
  }

  private _firstProcess(): string | null {
    return this._graph?.nodes.find(node => node.kind === 'process')?.id ?? null;
  }

  private _reveal(id: string): void {
    const rect = this._rect(id);
    const { width, height } = this._viewSize();
    if (!rect || width === 0 || height === 0) {
      return;
    }
    const next = reveal(this._transform, rect, width, height);
    if (next.x !== this._transform.x || next.y !== this._transform.y) {
      this._autoFit = false;
      this._setTransform(next);
    }
  }

  private _viewSize(): {
    left: number;
    top: number;
    width: number;
    height: number;
  } {
    if (this._size) {
      return this._size;
    }
    const { left, top, width, height } = this._svg.getBoundingClientRect();
    const size = { left, top, width, height };
    if (width > 0 && height > 0) {
      this._size = size;
    }
    return size;
  }

  /**
   * Hide nodes well outside the view: Chrome lays SVG text out again whenever
   * the zoom changes, off-screen or not. A quarter view of margin, so that
   * small pans toggle little; the tab stop always stays, so Tab still reaches the graph.
   */
  private _cull(): void {
    const { width, height } = this._viewSize();
    if (width === 0 || height === 0) {
      return;
    }
    const t = this._transform;
    const x0 = (-width / 4 - t.x) / t.k;
    const x1 = ((5 * width) / 4 - t.x) / t.k;
    const y0 = (-height / 4 - t.y) / t.k;
    const y1 = ((5 * height) / 4 - t.y) / t.k;
    for (const [id, view] of this._views) {
      const point = this._position(id);
      const hidden =
        !!point &&
        id !== this._tabStop &&
        (point.x > x1 ||
          point.x + view.width < x0 ||
          point.y > y1 ||
          point.y + view.height < y0);
      if (hidden !== view.culled) {
        view.culled = hidden;
        view.g.style.display = hidden ? 'none' : '';
      }
    }
  }

  private _fit(): void {
    const rects: IRect[] = [];
    for (const id of this._views.keys()) {
      const rect = this._rect(id);
      if (rect) {
        rects.push(rect);
      }
    }
    const { width, height } = this._viewSize();
    if (width > 0 && height > 0) {
      this._setTransform(fitTransform(boundsOf(rects), width, height));
    }
  }

  private _zoomCenter(factor: number): void {
    const { width, height } = this._viewSize();
    this._autoFit = false;
    this._setTransform(zoomAt(this._transform, factor, width / 2, height / 2));
  }

  private _setTransform(t: ITransform): void {
    this._transform = t;
    this._viewport.setAttribute(
      'transform',
      `translate(${t.x} ${t.y}) scale(${t.k})`
    );
    this._svg.classList.toggle('nf-mod-far', t.k < FAR_ZOOM);
    this._cull();
  }

  private _relayout(): void {
    if (this._project === null) {
      return;
    }
    this._positions.set(this._project, {});
    void this._ctx.state?.remove(POSITIONS_KEY + this._project);
    for (const id of this._views.keys()) {
      this._place(id);
    }
    this._autoFit = true;
    this._fit();
    this._schedule('edges');
  }

  private _loadPositions(project: number): void {
    const state = this._ctx.state;
    if (!state) {
      this._positions.set(project, {});
      this._schedule();
      return;
    }
    if (this._loadingPositions.has(project)) {
      return;
    }
    this._loadingPositions.add(project);
    state
      .fetch(POSITIONS_KEY + project)
      .then(parsePositions, () => ({}))
      .then(positions => {
        this._loadingPositions.delete(project);
        if (!this._positions.has(project)) {
          this._positions.set(project, positions);
        }
        this._layoutKey = '';
        this._schedule();
      });
  }

  private _savePositions(): void {
    const project = this._project;
    const positions =
      project === null ? undefined : this._positions.get(project);
    if (project === null || !positions) {
      return;
    }
    for (const id of Object.keys(positions)) {
      if (!this._views.has(id)) {
        delete positions[id];
      }
    }
    void this._ctx.state?.save(POSITIONS_KEY + project, positions);
  }

  private _button(
    testid: string,
    text: string,
    label: string,
    onClick: () => void
  ): HTMLButtonElement {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'jp-Button nf-Button';
    button.dataset.testid = testid;
    button.textContent = text;
    button.title = label;
    button.setAttribute('aria-label', label);
    button.addEventListener('click', onClick);
    return button;
  }

  /** The node element an event happened in, if any. */
  private _nodeAt(target: EventTarget | null): string | null {
    const g =
      target instanceof Element
        ? target.closest<SVGGElement>('[data-node-id]')
        : null;
    return g?.dataset.nodeId ?? null;
  }

  private _onPointerDown = (event: PointerEvent): void => {
    if (event.button !== 0 || this._gesture) {
      return;
    }
    const id = this._nodeAt(event.target);
    const origin = id === null ? undefined : this._position(id);
    const pointer = event.pointerId ?? 0;
    if (id !== null && origin) {
      this._gesture = {
        kind: 'node',
        pointer,
        id,
        startX: event.clientX,
        startY: event.clientY,
        origin,
        moved: false
      };
    } else {
      this._gesture = {
        kind: 'pan',
        pointer,
        startX: event.clientX,
        startY: event.clientY,
        origin: this._transform
      };
      this._svg.classList.add('nf-mod-panning');
    }
    try {
      this._svg.setPointerCapture?.(pointer);
    } catch {
      // Synthetic events have no capturable pointer; moves still reach the svg.
    }
  };

  private _onPointerMove = (event: PointerEvent): void => {
    const gesture = this._gesture;
    if (!gesture) {
      return;
    }
    const dx = event.clientX - gesture.startX;
    const dy = event.clientY - gesture.startY;
    if (gesture.kind === 'pan') {
      this._autoFit = false;
      this._setTransform({
        ...gesture.origin,
        x: gesture.origin.x + dx,
        y: gesture.origin.y + dy
      });
      return;
    }
    if (!gesture.moved && Math.hypot(dx, dy) < DRAG_THRESHOLD) {
      return;
    }
    if (this._project === null) {
      return;
    }
    gesture.moved = true;
    const positions = this._positions.get(this._project) ?? {};
    this._positions.set(this._project, positions);
    const k = this._transform.k;
    positions[gesture.id] = [
      Math.round(gesture.origin.x + dx / k),
      Math.round(gesture.origin.y + dy / k)
    ];
    this._place(gesture.id);
    if (gesture.id === this._selectedId) {
      this._placeHalo();
    }
    this._schedule('edges');
  };

  private _onPointerUp = (event: PointerEvent): void => {
    const gesture = this._gesture;
    if (!gesture) {
      return;
    }
    this._gesture = null;
    this._svg.classList.remove('nf-mod-panning');
    try {
      this._svg.releasePointerCapture?.(gesture.pointer);
    } catch {
      // Nothing was captured.
    }
    if (gesture.kind !== 'node') {
      return;
    }
    if (gesture.moved) {
      this._savePositions();
    } else if (event.type === 'pointerup') {
      this._activate(gesture.id);
    }
  };

  private _onWheel = (event: WheelEvent): void => {
    event.preventDefault();
    const box = this._viewSize();
    const scale =
      event.deltaMode === 1 ? 0.05 : event.deltaMode === 2 ? 1 : 0.0015;
    // A big graph drops its labels while the wheel turns: Chrome lays every visible SVG text out again at each step.
    if (this._views.size > LABELS_WHILE_ZOOMING) {
      this._svg.classList.add('nf-mod-zooming');
      window.clearTimeout(this._zoomTimer);
      this._zoomTimer = window.setTimeout(
        () => this._svg.classList.remove('nf-mod-zooming'),
        200
      );
    }
    this._autoFit = false;
    this._setTransform(
      zoomAt(
        this._transform,
        Math.exp(-event.deltaY * scale),
        event.clientX - box.left,
        event.clientY - box.top
      )
    );
  };

  private _onKeyDown = (event: KeyboardEvent): void => {
    const id = this._nodeAt(event.target);
    if (id === null) {
      return;
    }
    const directions: Record<string, Direction> = {
      ArrowLeft: 'left',
      ArrowRight: 'right',
      ArrowUp: 'up',
      ArrowDown: 'down'
    };
    const direction = directions[event.key];
    if (direction) {
      event.preventDefault();
      const from = this._rect(id);
      if (!from) {
        return;
      }
      const candidates: { id: string; center: IPoint }[] = [];
      for (const other of this._views.keys()) {
        const rect =
          other !== id && isProcessNodeId(other)
            ? this._rect(other)
            : undefined;
        if (rect) {
          candidates.push({ id: other, center: center(rect) });
        }
      }
      const next = nearestInDirection(center(from), candidates, direction);
      if (next !== null) {
        this._focus(next);
      }
    } else if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      this._activate(id);
    }
  };

  private _onFocusIn = (event: FocusEvent): void => {
    const id = this._nodeAt(event.target);
    if (id !== null) {
      this._focusId = id;
      this._updateTabStop();
    }
  };

  private _focus(id: string): void {
    this._focusId = id;
    this._updateTabStop();
    this._reveal(id);
    this._views.get(id)?.g.focus({ preventScroll: true });
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

  private readonly _ctx: INagelfluhContext;
  private readonly _svg = svg('svg', {});
  private readonly _viewport = svg('g', {});
  private readonly _nodes = svg('g', {});
  private readonly _datasets = svg('g', {});
  private readonly _halo = svg('rect', { rx: '10' });
  private readonly _paths = new Map<
    EdgeClass,
    { line: SVGPathElement; head: SVGPathElement }
  >();
  private readonly _message = document.createElement('div');
  private readonly _status = document.createElement('span');
  private readonly _views = new Map<string, INodeView>();
  /** Dragged positions per project, once loaded from the state database. */
  private readonly _positions = new Map<number, Positions>();
  private readonly _loadingPositions = new Set<number>();
  private _graph: IFlowGraph | null = null;
  private _placement: ILayout | null = null;
  private _layoutKey = '';
  private _edgesKey = '';
  private _project: number | null = null;
  private _transform: ITransform = { x: 0, y: 0, k: 1 };
  /** Keep the whole graph in view until the user pans or zooms. */
  private _autoFit = true;
  private _fitPending = false;
  private _frame = 0;
  private _dirty = false;
  private _edgesDirty = false;
  private _selectedId: string | null = null;
  private _focusId: string | null = null;
  private _tabStop: string | null = null;
  private _selecting = false;
  private _gesture: Gesture | null = null;
  private _messageShown = '';
  /** The drawing area's box, read once per resize: reading it after DOM changes forces a layout. */
  private _size: {
    left: number;
    top: number;
    width: number;
    height: number;
  } | null = null;
  private _zoomTimer = 0;
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string>
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    element.setAttribute(name, value);
  }
  return element;
}

function setIfChanged(element: Element, name: string, value: string): void {
  if (element.getAttribute(name) !== value) {
    element.setAttribute(name, value);
  }
}

function center(rect: IRect): IPoint {
  return { x: rect.x + rect.width / 2, y: rect.y + rect.height / 2 };
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** Dragged positions as stored; anything malformed is ignored rather than trusted. */
function parsePositions(
  value: ReadonlyPartialJSONValue | undefined
): Positions {
  const positions: Positions = {};
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [id, point] of Object.entries(value)) {
      if (
        Array.isArray(point) &&
        point.length === 2 &&
        point.every(n => typeof n === 'number' && isFinite(n))
      ) {
        positions[id] = [point[0] as number, point[1] as number];
      }
    }
  }
  return positions;
}
