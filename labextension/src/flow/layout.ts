/**
 * Layered (Sugiyama-style) layout of a directed graph, flowing left to right.
 *
 * Each weakly connected component is laid out on its own:
 * 1. cycles are broken by reversing the back edges of a depth-first search;
 * 2. layers by longest path, sources pulled next to their first consumer;
 * 3. edges spanning several layers get dummy nodes (the bends of their route);
 * 4. crossings are reduced by barycenter sweeps, keeping the best order seen;
 * 5. a layer too tall for the component to stay screen-shaped wraps into
 *    sub-columns (see `maxLayerNodes`), links into or out of a sub-column, or
 *    through the layer, run along the gaps between its rows;
 * 6. vertical positions: each sweep moves nodes towards their neighbours' mean
 *    while keeping the order and the spacing, solved exactly by isotonic
 *    regression (pool adjacent violators); a wrapped layer moves as one block.
 * Components are then packed in rows, and nodes without any edge in a grid
 * below, so thousands of unrelated processes fill a rectangle, not one row.
 * Pure and deterministic: the same input gives the same picture.
 */

export interface ILayoutNode {
  id: string;
  width: number;
  height: number;
}

export interface ILayoutEdge {
  from: string;
  to: string;
}

export interface IPoint {
  x: number;
  y: number;
}

export interface ILayoutOptions {
  /** Horizontal space between layers. */
  layerGap: number;
  /** Vertical space between nodes of a layer. */
  nodeGap: number;
  /** Space between packed components and around the grid of lone nodes. */
  componentGap: number;
  /** Width / height the packing aims for (a screen is wider than tall). */
  aspect: number;
  /** Most crossing-reduction iterations (each one sweep down and one up). */
  sweeps: number;
  /**
   * A component taller than wide with a layer of more nodes than this (a
   * parameter sweep: one input feeding 1,000 runs) wraps its layers into
   * sub-columns of at most R rows, R the largest that leaves it `aspect` times
   * as wide as tall — else it would be one column tens of thousands of pixels
   * high, which neither fitting nor packing can show. Below the bound nothing
   * wraps, so ordinary graphs keep their plain layered look.
   */
  maxLayerNodes: number;
}

export interface ILayout {
  /** Top-left corner of every node. */
  positions: Map<string, IPoint>;
  /** Bends of edges spanning several layers, source to target, by `${from}>${to}`. */
  routes: Map<string, IPoint[]>;
  width: number;
  height: number;
}

export const DEFAULT_LAYOUT_OPTIONS: ILayoutOptions = {
  layerGap: 80,
  nodeGap: 20,
  componentGap: 48,
  aspect: 1.6,
  sweeps: 12,
  maxLayerNodes: 40
};

export function layout(
  nodes: readonly ILayoutNode[],
  edges: readonly ILayoutEdge[],
  options: Partial<ILayoutOptions> = {}
): ILayout {
  const opts = { ...DEFAULT_LAYOUT_OPTIONS, ...options };
  const index = new Map(nodes.map((node, i) => [node.id, i]));
  const pairs: [number, number][] = [];
  const seen = new Set<string>();
  for (const edge of edges) {
    const a = index.get(edge.from);
    const b = index.get(edge.to);
    const key = `${a}>${b}`;
    if (a === undefined || b === undefined || a === b || seen.has(key)) {
      continue;
    }
    seen.add(key);
    pairs.push([a, b]);
  }

  const parent = nodes.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  for (const [a, b] of pairs) {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) {
      parent[Math.max(ra, rb)] = Math.min(ra, rb);
    }
  }
  const members = new Map<number, number[]>();
  const componentPairs = new Map<number, [number, number][]>();
  nodes.forEach((_, i) => {
    const root = find(i);
    const list = members.get(root) ?? [];
    list.push(i);
    members.set(root, list);
  });
  for (const pair of pairs) {
    const root = find(pair[0]);
    const list = componentPairs.get(root) ?? [];
    list.push(pair);
    componentPairs.set(root, list);
  }

  const components: IComponent[] = [];
  const lone: number[] = [];
  for (const [root, list] of members) {
    if (list.length === 1) {
      lone.push(list[0]);
    } else {
      components.push(
        layoutComponent(nodes, list, componentPairs.get(root) ?? [], opts)
      );
    }
  }
  components.sort((a, b) => b.size - a.size || a.first - b.first);

  const positions = new Map<string, IPoint>();
  const routes = new Map<string, IPoint[]>();
  const gap = opts.componentGap;
  const cellWidth = maxOf(lone, i => nodes[i].width);
  const cellHeight = maxOf(lone, i => nodes[i].height);
  const cellGapX = opts.nodeGap * 2;
  let area = lone.length * (cellWidth + cellGapX) * (cellHeight + opts.nodeGap);
  let widest = cellWidth;
  for (const component of components) {
    area += (component.width + gap) * (component.height + gap);
    widest = Math.max(widest, component.width);
  }
  const targetWidth = Math.max(widest, Math.sqrt(area * opts.aspect));

  let x = 0;
  let y = 0;
  let rowHeight = 0;
  let width = 0;
  for (const component of components) {
    if (x > 0 && x + component.width > targetWidth) {
      y += rowHeight + gap;
      x = 0;
      rowHeight = 0;
    }
    for (const [i, point] of component.positions) {
      positions.set(nodes[i].id, { x: point.x + x, y: point.y + y });
    }
    for (const [key, bends] of component.routes) {
      routes.set(
        key,
        bends.map(point => ({ x: point.x + x, y: point.y + y }))
      );
    }
    width = Math.max(width, x + component.width);
    rowHeight = Math.max(rowHeight, component.height);
    x += component.width + gap;
  }
  let height = y + rowHeight;
  if (lone.length > 0) {
    const top = components.length > 0 ? height + gap : 0;
    const columns = Math.max(
      1,
      Math.floor((targetWidth + cellGapX) / (cellWidth + cellGapX))
    );
    lone.forEach((i, k) => {
      const node = nodes[i];
      const column = k % columns;
      const row = Math.floor(k / columns);
      positions.set(node.id, {
        x: column * (cellWidth + cellGapX) + (cellWidth - node.width) / 2,
        y:
          top +
          row * (cellHeight + opts.nodeGap) +
          (cellHeight - node.height) / 2
      });
    });
    const rows = Math.ceil(lone.length / columns);
    width = Math.max(
      width,
      Math.min(lone.length, columns) * (cellWidth + cellGapX) - cellGapX
    );
    height = top + rows * (cellHeight + opts.nodeGap) - opts.nodeGap;
  }
  return { positions, routes, width, height };
}

interface IComponent {
  /** Node count, for packing big components first. */
  size: number;
  /** Smallest input index, for a stable packing order. */
  first: number;
  positions: Map<number, IPoint>;
  routes: Map<string, IPoint[]>;
  width: number;
  height: number;
}

function layoutComponent(
  nodes: readonly ILayoutNode[],
  members: number[],
  pairs: [number, number][],
  opts: ILayoutOptions
): IComponent {
  const n = members.length;
  const local = new Map(members.map((global, i) => [global, i]));
  const out: number[][] = members.map(() => []);
  const inDegree = new Array<number>(n).fill(0);
  const edges = pairs.map(
    ([a, b]) => [local.get(a)!, local.get(b)!] as [number, number]
  );
  for (const [a, b] of edges) {
    out[a].push(b);
    inDegree[b]++;
  }

  // 1. Break cycles: edges closing a cycle in a DFS (started at sources first) are reversed.
  const reversed = new Set<string>();
  const mark = new Array<number>(n).fill(0);
  const roots = [...members.keys()].sort(
    (a, b) => (inDegree[a] === 0 ? 0 : 1) - (inDegree[b] === 0 ? 0 : 1)
  );
  for (const root of roots) {
    if (mark[root] !== 0) {
      continue;
    }
    const stack: [number, number][] = [[root, 0]];
    mark[root] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const [node, next] = top;
      if (next < out[node].length) {
        top[1]++;
        const target = out[node][next];
        if (mark[target] === 1) {
          reversed.add(`${node}>${target}`);
        } else if (mark[target] === 0) {
          mark[target] = 1;
          stack.push([target, 0]);
        }
      } else {
        mark[node] = 2;
        stack.pop();
      }
    }
  }
  const dag = new Map<string, [number, number]>();
  for (const [a, b] of edges) {
    const [u, v] = reversed.has(`${a}>${b}`) ? [b, a] : [a, b];
    dag.set(`${u}>${v}`, [u, v]);
  }

  // 2. Longest-path layers in topological order, then sources moved next to their consumers.
  const succ: number[][] = members.map(() => []);
  const pred: number[][] = members.map(() => []);
  for (const [u, v] of dag.values()) {
    succ[u].push(v);
    pred[v].push(u);
  }
  const layer = new Array<number>(n).fill(0);
  const remaining = pred.map(list => list.length);
  const queue = [...members.keys()].filter(i => remaining[i] === 0);
  for (let head = 0; head < queue.length; head++) {
    const u = queue[head];
    for (const v of succ[u]) {
      layer[v] = Math.max(layer[v], layer[u] + 1);
      if (--remaining[v] === 0) {
        queue.push(v);
      }
    }
  }
  for (let u = 0; u < n; u++) {
    if (pred[u].length === 0 && succ[u].length > 0) {
      // One layer before its nearest consumer.
      layer[u] = -maxOf(succ[u], v => -layer[v]) - 1;
    }
  }

  // 3. Dummy nodes on long edges; every segment then joins adjacent layers.
  const height: number[] = members.map(g => nodes[g].height);
  const width: number[] = members.map(g => nodes[g].width);
  const layerOf = [...layer];
  const up: number[][] = members.map(() => []);
  const down: number[][] = members.map(() => []);
  // Each layered edge's chain of nodes, from its upper to its lower layer.
  const chains = new Map<string, number[]>();
  for (const [key, [u, v]] of dag) {
    const chain = [u];
    let previous = u;
    for (let l = layer[u] + 1; l < layer[v]; l++) {
      const dummy = layerOf.length;
      layerOf.push(l);
      height.push(0);
      width.push(0);
      up.push([]);
      down.push([]);
      chain.push(dummy);
      down[previous].push(dummy);
      up[dummy].push(previous);
      previous = dummy;
    }
    down[previous].push(v);
    up[v].push(previous);
    chain.push(v);
    chains.set(key, chain);
  }
  const total = layerOf.length;
  const layerCount = maxOf(layerOf, l => l) + 1;
  let layers: number[][] = Array.from({ length: layerCount }, () => []);
  for (let i = 0; i < total; i++) {
    layers[layerOf[i]].push(i);
  }

  // 4. Crossing reduction.
  const pos = new Array<number>(total).fill(0);
  const number = (list: number[][]) =>
    list.forEach(row => row.forEach((node, i) => (pos[node] = i)));
  number(layers);
  const reorder = (row: number[], neighbours: number[][]) => {
    const keyed = row.map(node => {
      const list = neighbours[node];
      let sum = 0;
      for (const other of list) {
        sum += pos[other];
      }
      const bary = list.length > 0 ? sum / list.length : pos[node];
      return { node, bary, was: pos[node] };
    });
    keyed.sort((a, b) => a.bary - b.bary || a.was - b.was);
    keyed.forEach((item, i) => {
      row[i] = item.node;
      pos[item.node] = i;
    });
  };
  const crossings = () => {
    let count = 0;
    for (let l = 0; l + 1 < layerCount; l++) {
      const sequence: number[] = [];
      for (const node of layers[l]) {
        const targets = down[node].map(v => pos[v]).sort((a, b) => a - b);
        sequence.push(...targets);
      }
      count += inversions(sequence, layers[l + 1].length);
    }
    return count;
  };
  let best = crossings();
  let bestLayers = layers.map(row => [...row]);
  let stale = 0;
  for (let sweep = 0; sweep < opts.sweeps && best > 0; sweep++) {
    for (let l = 1; l < layerCount; l++) {
      reorder(layers[l], up);
    }
    for (let l = layerCount - 2; l >= 0; l--) {
      reorder(layers[l], down);
    }
    const count = crossings();
    if (count < best) {
      best = count;
      bestLayers = layers.map(row => [...row]);
      stale = 0;
    } else if (++stale >= 3) {
      break;
    }
  }
  layers = bestLayers;
  number(layers);

  // 5. Wrapping: a wrapped layer's nodes fill `depth` rows, sub-column after sub-column, in the crossing-reduced order.
  const subGap = opts.nodeGap * 2;
  const real = layers.map(row => row.filter(node => node < n));
  const pitch = real.map(
    row => maxOf(row, node => height[node]) + opts.nodeGap
  );
  const cell = real.map(row => maxOf(row, node => width[node]));
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
  const slot = new Array<number>(total).fill(0);
  real.forEach(row => row.forEach((node, i) => (slot[node] = i)));
  const gridRow = (node: number) => slot[node] % depth[layerOf[node]];
  const subColumn = (node: number) =>
    Math.floor(slot[node] / depth[layerOf[node]]);

  // 6. Vertical positions (node centres).
  const y = new Array<number>(total).fill(0);
  const separation = (a: number, b: number) =>
    (height[a] + height[b]) / 2 +
    (a < n && b < n ? opts.nodeGap : opts.nodeGap / 2);
  layers.forEach((row, l) => {
    if (columns[l] > 1) {
      real[l].forEach(node => (y[node] = gridRow(node) * pitch[l]));
      return;
    }
    let offset = 0;
    row.forEach((node, i) => {
      if (i > 0) {
        offset += separation(row[i - 1], node);
      }
      y[node] = offset;
    });
  });
  const wish = (node: number, list: number[]) => {
    let sum = 0;
    for (const other of list) {
      sum += y[other];
    }
    return list.length > 0 ? sum / list.length : y[node];
  };
  /** The block of a wrapped layer goes where its nodes' wishes average; bends through it snap to a gap between rows. */
  const placeGrid = (l: number, neighbours: (node: number) => number[]) => {
    let sum = 0;
    let weight = 0;
    for (const node of real[l]) {
      const list = neighbours(node);
      const w = list.length === 0 ? 0.05 : 1;
      sum += w * (wish(node, list) - gridRow(node) * pitch[l]);
      weight += w;
    }
    const shift = sum / weight;
    for (const node of real[l]) {
      y[node] = shift + gridRow(node) * pitch[l];
    }
    for (const node of layers[l]) {
      if (node >= n) {
        const target = wish(node, neighbours(node));
        const lane = Math.round((target - shift) / pitch[l] + 0.5);
        y[node] =
          lane < 0 || lane > depth[l]
            ? target
            : shift + (lane - 0.5) * pitch[l];
      }
    }
  };
  const place = (l: number, neighbours: (node: number) => number[]) => {
    if (columns[l] > 1) {
      placeGrid(l, neighbours);
      return;
    }
    const row = layers[l];
    const targets: number[] = [];
    const weights: number[] = [];
    const offsets: number[] = [];
    let offset = 0;
    row.forEach((node, i) => {
      if (i > 0) {
        offset += separation(row[i - 1], node);
      }
      offsets.push(offset);
      const list = neighbours(node);
      targets.push(wish(node, list) - offset);
      weights.push(list.length === 0 ? 0.05 : node >= n ? 2 : 1);
    });
    const fitted = isotonic(targets, weights);
    row.forEach((node, i) => (y[node] = fitted[i] + offsets[i]));
  };
  for (let pass = 0; pass < 4; pass++) {
    for (let l = 1; l < layerCount; l++) {
      place(l, node => up[node]);
    }
    for (let l = layerCount - 2; l >= 0; l--) {
      place(l, node => down[node]);
    }
  }
  for (let l = 0; l < layerCount; l++) {
    place(l, node => [...up[node], ...down[node]]);
  }
  let top = Infinity;
  let bottom = -Infinity;
  for (let i = 0; i < total; i++) {
    top = Math.min(top, y[i] - height[i] / 2);
    bottom = Math.max(bottom, y[i] + height[i] / 2);
  }

  const columnWidth = cell.map((w, l) => columns[l] * (w + subGap) - subGap);
  const columnX: number[] = [];
  let x = 0;
  for (let l = 0; l < layerCount; l++) {
    columnX.push(x);
    x += columnWidth[l] + opts.layerGap;
  }
  const subColumnX = (node: number) => {
    const l = layerOf[node];
    return columnX[l] + subColumn(node) * (cell[l] + subGap);
  };

  const positions = new Map<number, IPoint>();
  for (let i = 0; i < n; i++) {
    const l = layerOf[i];
    positions.set(members[i], {
      x: subColumnX(i) + (cell[l] - width[i]) / 2,
      y: y[i] - height[i] / 2 - top
    });
  }
  /**
   * Bends of a layered edge. Leaving a sub-column that is not its layer's
   * last, the edge runs right along the gap below its source's row (a little
   * towards that row); entering one that is not the first, along the gap above
   * its target's row; through a wrapped layer, along the gap its bend snapped to.
   */
  const bendsOf = (chain: number[]): IPoint[] => {
    const bends: IPoint[] = [];
    const first = chain[0];
    const last = chain[chain.length - 1];
    const lf = layerOf[first];
    if (subColumn(first) + 1 < columns[lf]) {
      const lane = y[first] + pitch[lf] / 2 - opts.nodeGap / 4 - top;
      bends.push(
        { x: subColumnX(first) + cell[lf] + subGap, y: lane },
        { x: columnX[lf] + columnWidth[lf], y: lane }
      );
    }
    for (const d of chain.slice(1, -1)) {
      const l = layerOf[d];
      if (columns[l] > 1) {
        bends.push(
          { x: columnX[l], y: y[d] - top },
          { x: columnX[l] + columnWidth[l], y: y[d] - top }
        );
      } else {
        bends.push({ x: columnX[l] + columnWidth[l] / 2, y: y[d] - top });
      }
    }
    if (subColumn(last) > 0) {
      const ll = layerOf[last];
      const lane = y[last] - pitch[ll] / 2 + opts.nodeGap / 4 - top;
      bends.push(
        { x: columnX[ll], y: lane },
        { x: subColumnX(last) - subGap, y: lane }
      );
    }
    return bends;
  };
  const routes = new Map<string, IPoint[]>();
  for (const [a, b] of edges) {
    const flipped = reversed.has(`${a}>${b}`);
    const bends = bendsOf(chains.get(flipped ? `${b}>${a}` : `${a}>${b}`)!);
    if (bends.length > 0) {
      routes.set(
        `${nodes[members[a]].id}>${nodes[members[b]].id}`,
        flipped ? bends.reverse() : bends
      );
    }
  }
  return {
    size: n,
    first: members[0],
    positions,
    routes,
    width: x - opts.layerGap,
    height: bottom - top
  };
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

/** The largest of `f` over a list (0 for an empty one), without spreading big arrays into arguments. */
function maxOf<T>(list: readonly T[], f: (item: T) => number): number {
  let max = list.length > 0 ? -Infinity : 0;
  for (const item of list) {
    max = Math.max(max, f(item));
  }
  return max;
}

/** Inversions of a sequence of values in [0, size): the crossings between two layers. */
function inversions(sequence: number[], size: number): number {
  const tree = new Array<number>(size + 1).fill(0);
  let count = 0;
  for (let i = 0; i < sequence.length; i++) {
    // Earlier values greater than this one cross it.
    let seenUpTo = 0;
    for (let j = sequence[i] + 1; j > 0; j -= j & -j) {
      seenUpTo += tree[j];
    }
    count += i - seenUpTo;
    for (let j = sequence[i] + 1; j <= size; j += j & -j) {
      tree[j]++;
    }
  }
  return count;
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
