/**
 * The last step of laying out a component (see layout.ts): layers become
 * columns left to right, nodes get their top-left corners, and edges spanning
 * several layers or leaving a wrapped layer get the bends of their route.
 */
import type { ILayoutNode, ILayoutOptions, IPoint } from './layout';
import type { ILayered } from './layering';
import type { IGrid } from './placement';

/** A laid-out component, in its own coordinates (top-left at 0, 0). */
export interface IComponent {
  /** Node count, for packing big components first. */
  size: number;
  /** Smallest input index, for a stable packing order. */
  first: number;
  /** Top-left corners by input index. */
  positions: Map<number, IPoint>;
  routes: Map<string, IPoint[]>;
  width: number;
  height: number;
}

/** Columns, corners and routes of a component whose node centres are `y`. */
export function routeComponent(
  nodes: readonly ILayoutNode[],
  members: number[],
  g: ILayered,
  grid: IGrid,
  y: number[],
  opts: ILayoutOptions
): IComponent {
  const columns = new Columns(g, grid, y, opts);
  const positions = new Map<number, IPoint>();
  for (let i = 0; i < g.n; i++) {
    positions.set(members[i], columns.corner(i));
  }
  const routes = new Map<string, IPoint[]>();
  for (const [a, b] of g.edges) {
    const flipped = g.reversed.has(`${a}>${b}`);
    const chain = g.chains.get(flipped ? `${b}>${a}` : `${a}>${b}`)!;
    const bends = columns.bendsOf(chain);
    if (bends.length > 0) {
      routes.set(
        `${nodes[members[a]].id}>${nodes[members[b]].id}`,
        flipped ? bends.reverse() : bends
      );
    }
  }
  return {
    size: g.n,
    first: members[0],
    positions,
    routes,
    width: columns.width,
    height: columns.bottom - columns.top
  };
}

/** Horizontal geometry of the layers, and the vertical extent of the component. */
class Columns {
  /** Least and greatest y of any node's box, real or dummy. */
  readonly top: number;
  readonly bottom: number;
  /** Width of the whole component. */
  readonly width: number;

  constructor(
    private readonly g: ILayered,
    private readonly grid: IGrid,
    private readonly y: number[],
    private readonly opts: ILayoutOptions
  ) {
    let top = Infinity;
    let bottom = -Infinity;
    for (let i = 0; i < g.layerOf.length; i++) {
      top = Math.min(top, y[i] - g.height[i] / 2);
      bottom = Math.max(bottom, y[i] + g.height[i] / 2);
    }
    this.top = top;
    this.bottom = bottom;
    this._columnWidth = grid.cell.map(
      (w, l) => grid.columns[l] * (w + grid.subGap) - grid.subGap
    );
    let x = 0;
    for (let l = 0; l < g.layers.length; l++) {
      this._columnX.push(x);
      x += this._columnWidth[l] + opts.layerGap;
    }
    this.width = x - opts.layerGap;
  }

  /** Top-left corner of real node `i`, centred in its sub-column's cell. */
  corner(i: number): IPoint {
    const { g, grid } = this;
    const l = g.layerOf[i];
    return {
      x: this._subColumnX(i) + (grid.cell[l] - g.width[i]) / 2,
      y: this.y[i] - g.height[i] / 2 - this.top
    };
  }

  /**
   * Bends of a layered edge. Leaving a sub-column that is not its layer's
   * last, the edge runs right along the gap below its source's row (a little
   * towards that row); entering one that is not the first, along the gap above
   * its target's row; through a wrapped layer, along the gap its bend snapped to.
   */
  bendsOf(chain: number[]): IPoint[] {
    const { g, grid, y, top } = this;
    const { nodeGap } = this.opts;
    const columnX = this._columnX;
    const columnWidth = this._columnWidth;
    const bends: IPoint[] = [];
    const first = chain[0];
    const last = chain[chain.length - 1];
    const lf = g.layerOf[first];
    if (grid.subColumn(first) + 1 < grid.columns[lf]) {
      const lane = y[first] + grid.pitch[lf] / 2 - nodeGap / 4 - top;
      bends.push(
        { x: this._subColumnX(first) + grid.cell[lf] + grid.subGap, y: lane },
        { x: columnX[lf] + columnWidth[lf], y: lane }
      );
    }
    for (const d of chain.slice(1, -1)) {
      const l = g.layerOf[d];
      if (grid.columns[l] > 1) {
        bends.push(
          { x: columnX[l], y: y[d] - top },
          { x: columnX[l] + columnWidth[l], y: y[d] - top }
        );
      } else {
        bends.push({ x: columnX[l] + columnWidth[l] / 2, y: y[d] - top });
      }
    }
    if (grid.subColumn(last) > 0) {
      const ll = g.layerOf[last];
      const lane = y[last] - grid.pitch[ll] / 2 + nodeGap / 4 - top;
      bends.push(
        { x: columnX[ll], y: lane },
        { x: this._subColumnX(last) - grid.subGap, y: lane }
      );
    }
    return bends;
  }

  private _subColumnX(node: number): number {
    const l = this.g.layerOf[node];
    return (
      this._columnX[l] +
      this.grid.subColumn(node) * (this.grid.cell[l] + this.grid.subGap)
    );
  }

  private readonly _columnWidth: number[];
  private readonly _columnX: number[] = [];
}
