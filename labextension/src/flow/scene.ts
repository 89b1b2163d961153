/**
 * What the flow view draws: the SVG with one <g> per node, all edges in six
 * <path>s (lines and arrow heads, for current, older and selected links), the
 * selection halo, and the transform of pan and zoom. It knows where nodes are
 * through `IScenePlacement` and nothing of the store or the selection.
 */
import type { IPoint } from './layout';
import { IRect, ITransform, edgePath } from './geometry';
import { FlowNode, IFlowGraph } from './graph';
import { NodeView, createNodeView, patchNodeView } from './nodes';
import { setIfChanged, svg } from './svg';

/** Below this zoom labels are unreadable anyway, and they are the costliest to paint. */
const FAR_ZOOM = 0.55;

type EdgeClass = 'current' | 'old' | 'selected';

/** Where the nodes are: dragged or laid out. */
export interface IScenePlacement {
  /** Top-left corner of node `id`. */
  position(id: string): IPoint | undefined;
  /** Bends of the link from → to, none when either end was dragged. */
  route(from: string, to: string): IPoint[];
}

export class FlowScene {
  /** The drawing: pointer and wheel gestures are listened to on it. */
  readonly svg = svg('svg', {});

  constructor(private readonly _placement: IScenePlacement) {
    this.svg.classList.add('nf-Flow-svg');
    this.svg.dataset.testid = 'nf-flow';
    this.svg.setAttribute('aria-label', 'Process flow graph');
    this.svg.setAttribute('role', 'group');
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
    this.svg.append(this._viewport);
  }

  /** Ids of the nodes drawn. */
  ids(): IterableIterator<string> {
    return this._views.keys();
  }

  get size(): number {
    return this._views.size;
  }

  has(id: string): boolean {
    return this._views.has(id);
  }

  /** The node element an event happened in, if any. */
  nodeAt(target: EventTarget | null): string | null {
    const g =
      target instanceof Element
        ? target.closest<SVGGElement>('[data-node-id]')
        : null;
    return g?.dataset.nodeId ?? null;
  }

  /** Create elements for new nodes and drop those of nodes that are gone. */
  reconcile(graph: IFlowGraph): void {
    const present = new Set(graph.nodes.map(node => node.id));
    for (const [id, view] of this._views) {
      if (!present.has(id)) {
        view.g.remove();
        this._views.delete(id);
      }
    }
    for (const node of graph.nodes) {
      if (!this._views.has(node.id)) {
        const view = createNodeView(node);
        this._views.set(node.id, view);
        (node.kind === 'process' ? this._nodes : this._datasets).append(view.g);
      }
    }
  }

  patch(node: FlowNode): void {
    const view = this._views.get(node.id);
    if (view) {
      patchNodeView(view, node);
    }
  }

  /** Move a node's element to its position. */
  place(id: string): void {
    const view = this._views.get(id);
    const point = this._placement.position(id);
    if (view && point) {
      view.g.setAttribute('transform', `translate(${point.x} ${point.y})`);
    }
  }

  placeAll(): void {
    for (const id of this._views.keys()) {
      this.place(id);
    }
  }

  /** A node's box in graph coordinates. */
  rect(id: string): IRect | undefined {
    const view = this._views.get(id);
    const point = this._placement.position(id);
    return view && point
      ? { x: point.x, y: point.y, width: view.width, height: view.height }
      : undefined;
  }

  rects(): IRect[] {
    const rects: IRect[] = [];
    for (const id of this._views.keys()) {
      const rect = this.rect(id);
      if (rect) {
        rects.push(rect);
      }
    }
    return rects;
  }

  /** Redraw every link, those touching `selected` highlighted, then the halo. */
  drawEdges(graph: IFlowGraph | null, selected: string | null): void {
    const parts: Record<EdgeClass, { line: string[]; head: string[] }> = {
      old: { line: [], head: [] },
      current: { line: [], head: [] },
      selected: { line: [], head: [] }
    };
    for (const edge of graph?.edges ?? []) {
      const from = this.rect(edge.from);
      const to = this.rect(edge.to);
      if (!from || !to) {
        continue;
      }
      const path = edgePath(
        from,
        to,
        this._placement.route(edge.from, edge.to)
      );
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
    this.placeHalo(selected);
  }

  /** Mark node `id` selected or not (class and aria-selected). */
  setSelected(id: string, selected: boolean): void {
    const view = this._views.get(id);
    if (!view || view.g.classList.contains('nf-selected') === selected) {
      return;
    }
    view.g.classList.toggle('nf-selected', selected);
    view.g.setAttribute('aria-selected', String(selected));
  }

  /** The halo around the selected node, hidden without one. */
  placeHalo(selected: string | null): void {
    const rect = selected === null ? undefined : this.rect(selected);
    this._halo.style.display = rect ? '' : 'none';
    if (rect) {
      this._halo.setAttribute('x', String(rect.x - 5));
      this._halo.setAttribute('y', String(rect.y - 5));
      this._halo.setAttribute('width', String(rect.width + 10));
      this._halo.setAttribute('height', String(rect.height + 10));
    }
  }

  /** Move the roving tab stop from node `from` to node `to` (shown, even if culled). */
  moveTabStop(from: string | null, to: string | null): void {
    if (from !== null) {
      this._views.get(from)?.g.setAttribute('tabindex', '-1');
    }
    const view = to === null ? undefined : this._views.get(to);
    if (view) {
      view.g.setAttribute('tabindex', '0');
      view.culled = false;
      view.g.style.display = '';
    }
  }

  focus(id: string): void {
    this._views.get(id)?.g.focus({ preventScroll: true });
  }

  setTransform(t: ITransform): void {
    this._viewport.setAttribute(
      'transform',
      `translate(${t.x} ${t.y}) scale(${t.k})`
    );
    this.svg.classList.toggle('nf-mod-far', t.k < FAR_ZOOM);
  }

  /**
   * Hide nodes well outside the view: Chrome lays SVG text out again whenever
   * the zoom changes, off-screen or not. A quarter view of margin, so that
   * small pans toggle little; `keep` (the tab stop) always stays, so Tab
   * still reaches the graph.
   */
  cull(
    t: ITransform,
    width: number,
    height: number,
    keep: string | null
  ): void {
    if (width === 0 || height === 0) {
      return;
    }
    const x0 = (-width / 4 - t.x) / t.k;
    const x1 = ((5 * width) / 4 - t.x) / t.k;
    const y0 = (-height / 4 - t.y) / t.k;
    const y1 = ((5 * height) / 4 - t.y) / t.k;
    for (const [id, view] of this._views) {
      const point = this._placement.position(id);
      const hidden =
        !!point &&
        id !== keep &&
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

  private readonly _viewport = svg('g', {});
  private readonly _nodes = svg('g', {});
  private readonly _datasets = svg('g', {});
  private readonly _halo = svg('rect', { rx: '10' });
  private readonly _paths = new Map<
    EdgeClass,
    { line: SVGPathElement; head: SVGPathElement }
  >();
  private readonly _views = new Map<string, NodeView>();
}
