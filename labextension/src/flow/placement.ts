/**
 * Steps 5 and 6 of the layered layout (see layout.ts): wrapping layers too
 * tall for the component into sub-columns, and the vertical position of every
 * node, solved by isotonic regression so that each layer keeps its order and
 * spacing.
 */
import type { ILayoutOptions } from './layout';
import type { ILayered } from './layering';
import { maxOf } from './numbers';

/** How each layer is cut into sub-columns (one, unless it wraps). */
export interface IGrid {
  /** Real nodes of each layer, in order (dummy nodes left out). */
  real: number[][];
  /** Height of a row of each layer: its tallest node plus the gap. */
  pitch: number[];
  /** Width of a sub-column of each layer: its widest node. */
  cell: number[];
  /** Sub-columns per layer. */
  columns: number[];
  /** Rows per sub-column of each layer. */
  depth: number[];
  /** Horizontal space between sub-columns. */
  subGap: number;
  /** The row of a real node within its sub-column. */
  gridRow(node: number): number;
  /** The sub-column of a real node within its layer. */
  subColumn(node: number): number;
}

/**
 * Step 5: a wrapped layer's nodes fill `depth` rows, sub-column after
 * sub-column, in the crossing-reduced order.
 */
export function wrapLayers(g: ILayered, opts: ILayoutOptions): IGrid {
  const subGap = opts.nodeGap * 2;
  const real = g.layers.map(row => row.filter(node => node < g.n));
  const pitch = real.map(
    row => maxOf(row, node => g.height[node]) + opts.nodeGap
  );
  const cell = real.map(row => maxOf(row, node => g.width[node]));
  const limit = wrapLimit(
    real.map(row => row.length),
    pitch,
    cell,
    subGap,
    opts
  );
  const columns = real.map(row =>
    row.length > limit ? Math.ceil(row.length / limit) : 1
  );
  const depth = real.map((row, l) => Math.ceil(row.length / columns[l]));
  const slot = new Array<number>(g.layerOf.length).fill(0);
  real.forEach(row => row.forEach((node, i) => (slot[node] = i)));
  return {
    real,
    pitch,
    cell,
    columns,
    depth,
    subGap,
    gridRow: node => slot[node] % depth[g.layerOf[node]],
    subColumn: node => Math.floor(slot[node] / depth[g.layerOf[node]])
  };
}

/**
 * Step 6: vertical positions (node centres). Four sweeps down and up, each
 * moving a layer towards its neighbours in the layer before, then one pass
 * towards the neighbours on both sides.
 */
export function verticalPositions(
  g: ILayered,
  grid: IGrid,
  opts: ILayoutOptions
): number[] {
  const placer = new VerticalPlacer(g, grid, opts);
  const layerCount = g.layers.length;
  for (let pass = 0; pass < 4; pass++) {
    for (let l = 1; l < layerCount; l++) {
      placer.place(l, node => g.up[node]);
    }
    for (let l = layerCount - 2; l >= 0; l--) {
      placer.place(l, node => g.down[node]);
    }
  }
  for (let l = 0; l < layerCount; l++) {
    placer.place(l, node => [...g.up[node], ...g.down[node]]);
  }
  return placer.y;
}

/** Moves the nodes of one layer at a time towards where their neighbours are. */
class VerticalPlacer {
  /** Centre of every node, real and dummy. */
  readonly y: number[];

  constructor(
    private readonly g: ILayered,
    private readonly grid: IGrid,
    private readonly opts: ILayoutOptions
  ) {
    this.y = new Array<number>(g.layerOf.length).fill(0);
    g.layers.forEach((row, l) => this._stack(row, l));
  }

  /** Place layer `l` towards the mean of each node's `neighbours`. */
  place(l: number, neighbours: (node: number) => number[]): void {
    if (this.grid.columns[l] > 1) {
      this._placeGrid(l, neighbours);
      return;
    }
    const { g, y } = this;
    const row = g.layers[l];
    const targets: number[] = [];
    const weights: number[] = [];
    const offsets: number[] = [];
    let offset = 0;
    row.forEach((node, i) => {
      if (i > 0) {
        offset += this._separation(row[i - 1], node);
      }
      offsets.push(offset);
      const list = neighbours(node);
      targets.push(this._wish(node, list) - offset);
      weights.push(list.length === 0 ? 0.05 : node >= g.n ? 2 : 1);
    });
    const fitted = isotonic(targets, weights);
    row.forEach((node, i) => (y[node] = fitted[i] + offsets[i]));
  }

  /** Initial positions: a wrapped layer's rows, or a plain layer's nodes stacked with their spacing. */
  private _stack(row: number[], l: number): void {
    const { grid, y } = this;
    if (grid.columns[l] > 1) {
      grid.real[l].forEach(
        node => (y[node] = grid.gridRow(node) * grid.pitch[l])
      );
      return;
    }
    let offset = 0;
    row.forEach((node, i) => {
      if (i > 0) {
        offset += this._separation(row[i - 1], node);
      }
      y[node] = offset;
    });
  }

  /** Least distance between the centres of two neighbours in a layer (dummy nodes need half the gap). */
  private _separation(a: number, b: number): number {
    const { g, opts } = this;
    return (
      (g.height[a] + g.height[b]) / 2 +
      (a < g.n && b < g.n ? opts.nodeGap : opts.nodeGap / 2)
    );
  }

  /** The mean position of a node's neighbours (its own without any). */
  private _wish(node: number, list: number[]): number {
    let sum = 0;
    for (const other of list) {
      sum += this.y[other];
    }
    return list.length > 0 ? sum / list.length : this.y[node];
  }

  /**
   * The block of a wrapped layer goes where its nodes' wishes average; bends
   * through it snap to a gap between rows.
   */
  private _placeGrid(l: number, neighbours: (node: number) => number[]): void {
    const { g, grid, y } = this;
    const pitch = grid.pitch[l];
    let sum = 0;
    let weight = 0;
    for (const node of grid.real[l]) {
      const list = neighbours(node);
      const w = list.length === 0 ? 0.05 : 1;
      sum += w * (this._wish(node, list) - grid.gridRow(node) * pitch);
      weight += w;
    }
    const shift = sum / weight;
    for (const node of grid.real[l]) {
      y[node] = shift + grid.gridRow(node) * pitch;
    }
    for (const node of g.layers[l]) {
      if (node >= g.n) {
        const target = this._wish(node, neighbours(node));
        const lane = Math.round((target - shift) / pitch + 0.5);
        y[node] =
          lane < 0 || lane > grid.depth[l]
            ? target
            : shift + (lane - 0.5) * pitch;
      }
    }
  }
}

/**
 * Most rows a layer keeps before it wraps. Unlimited unless some layer holds
 * more than `maxLayerNodes` nodes and the component stands taller than wide (a
 * big but broad DAG stays plain: wrapping its layers would only tangle its
 * links); else the largest count with which the component, every layer cut
 * into balanced sub-columns of at most that many rows, is at least `aspect`
 * times as wide as tall. Sizes are estimated from stacked nodes; bisection
 * works as fewer rows make the component wider and shorter.
 */
function wrapLimit(
  counts: number[],
  pitch: number[],
  cell: number[],
  subGap: number,
  opts: ILayoutOptions
): number {
  const size = (limit: number) => {
    let width = -opts.layerGap;
    let height = 0;
    counts.forEach((count, l) => {
      const k = Math.max(1, Math.ceil(count / limit));
      height = Math.max(height, Math.ceil(count / k) * pitch[l]);
      width += k * (cell[l] + subGap) - subGap + opts.layerGap;
    });
    return { width, height };
  };
  const most = maxOf(counts, count => count);
  const plain = size(most);
  if (most <= opts.maxLayerNodes || plain.height <= plain.width) {
    return Infinity;
  }
  let lo = 1;
  let hi = most;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const { width, height } = size(mid);
    if (height * opts.aspect <= width) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

/**
 * The non-decreasing sequence closest to `values` in weighted least squares
 * (pool adjacent violators): positions in a layer, shifted by their minimum
 * offsets, must not decrease — that keeps the order and the spacing.
 */
export function isotonic(
  values: readonly number[],
  weights: readonly number[]
): number[] {
  const mean: number[] = [];
  const weight: number[] = [];
  const count: number[] = [];
  values.forEach((value, i) => {
    mean.push(value);
    weight.push(weights[i]);
    count.push(1);
    while (mean.length > 1 && mean[mean.length - 2] > mean[mean.length - 1]) {
      const w = weight[weight.length - 2] + weight[weight.length - 1];
      const m =
        (mean[mean.length - 2] * weight[weight.length - 2] +
          mean[mean.length - 1] * weight[weight.length - 1]) /
        w;
      const c = count[count.length - 2] + count[count.length - 1];
      mean.splice(-2, 2, m);
      weight.splice(-2, 2, w);
      count.splice(-2, 2, c);
    }
  });
  const result: number[] = [];
  mean.forEach((m, b) => {
    for (let k = 0; k < count[b]; k++) {
      result.push(m);
    }
  });
  return result;
}
