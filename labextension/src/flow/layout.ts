/**
 * Layered (Sugiyama-style) layout of a directed graph, flowing left to right.
 *
 * Each weakly connected component is laid out on its own:
 * 1. cycles are broken by reversing the back edges of a depth-first search;
 * 2. layers by longest path, sources pulled next to their first consumer;
 * 3. edges spanning several layers get dummy nodes (the bends of their route);
 * 4. crossings are reduced by barycenter sweeps, keeping the best order seen;
 * 5. vertical positions: each sweep moves nodes towards their neighbours' mean
 *    while keeping the order and the spacing, solved exactly by isotonic
 *    regression (pool adjacent violators).
 * Components are then packed in rows, and nodes without any edge in a grid
 * below, so thousands of unrelated processes fill a rectangle, not one row.
 * Pure and deterministic: the same input gives the same picture.
 */

export interface LayoutNode {
  id: string;
  width: number;
  height: number;
}

export interface LayoutEdge {
  from: string;
  to: string;
}

export interface Point {
  x: number;
  y: number;
}

export interface LayoutOptions {
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
}

export interface Layout {
  /** Top-left corner of every node. */
  positions: Map<string, Point>;
  /** Bends of edges spanning several layers, source to target, by `${from}>${to}`. */
  routes: Map<string, Point[]>;
  width: number;
  height: number;
}

export const DEFAULT_LAYOUT_OPTIONS: LayoutOptions = {
  layerGap: 80,
  nodeGap: 20,
  componentGap: 48,
  aspect: 1.6,
  sweeps: 12
};

export function layout(
  nodes: readonly LayoutNode[],
  edges: readonly LayoutEdge[],
  options: Partial<LayoutOptions> = {}
): Layout {
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

  const components: Component[] = [];
  const lone: number[] = [];
  for (const [root, list] of members) {
    if (list.length === 1) {
      lone.push(list[0]);
    } else {
      components.push(layoutComponent(nodes, list, componentPairs.get(root) ?? [], opts));
    }
  }
  components.sort((a, b) => b.size - a.size || a.first - b.first);

  const positions = new Map<string, Point>();
  const routes = new Map<string, Point[]>();
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
      routes.set(key, bends.map(point => ({ x: point.x + x, y: point.y + y })));
    }
    width = Math.max(width, x + component.width);
    rowHeight = Math.max(rowHeight, component.height);
    x += component.width + gap;
  }
  let height = y + rowHeight;
  if (lone.length > 0) {
    const top = components.length > 0 ? height + gap : 0;
    const columns = Math.max(1, Math.floor((targetWidth + cellGapX) / (cellWidth + cellGapX)));
    lone.forEach((i, k) => {
      const node = nodes[i];
      const column = k % columns;
      const row = Math.floor(k / columns);
      positions.set(node.id, {
        x: column * (cellWidth + cellGapX) + (cellWidth - node.width) / 2,
        y: top + row * (cellHeight + opts.nodeGap) + (cellHeight - node.height) / 2
      });
    });
    const rows = Math.ceil(lone.length / columns);
    width = Math.max(width, Math.min(lone.length, columns) * (cellWidth + cellGapX) - cellGapX);
    height = top + rows * (cellHeight + opts.nodeGap) - opts.nodeGap;
  }
  return { positions, routes, width, height };
}

interface Component {
  /** Node count, for packing big components first. */
  size: number;
  /** Smallest input index, for a stable packing order. */
  first: number;
  positions: Map<number, Point>;
  routes: Map<string, Point[]>;
  width: number;
  height: number;
}

function layoutComponent(
  nodes: readonly LayoutNode[],
  members: number[],
  pairs: [number, number][],
  opts: LayoutOptions
): Component {
  const n = members.length;
  const local = new Map(members.map((global, i) => [global, i]));
  const out: number[][] = members.map(() => []);
  const inDegree = new Array<number>(n).fill(0);
  const edges = pairs.map(([a, b]) => [local.get(a)!, local.get(b)!] as [number, number]);
  for (const [a, b] of edges) {
    out[a].push(b);
    inDegree[b]++;
  }

  // 1. Break cycles: edges closing a cycle in a DFS (started at sources first) are reversed.
  const reversed = new Set<string>();
  const mark = new Array<number>(n).fill(0);
  const roots = [...members.keys()].sort((a, b) => (inDegree[a] === 0 ? 0 : 1) - (inDegree[b] === 0 ? 0 : 1));
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
  const number = (list: number[][]) => list.forEach(row => row.forEach((node, i) => (pos[node] = i)));
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

  // 5. Vertical positions (node centres).
  const y = new Array<number>(total).fill(0);
  const separation = (a: number, b: number) =>
    (height[a] + height[b]) / 2 + (a < n && b < n ? opts.nodeGap : opts.nodeGap / 2);
  for (const row of layers) {
    let offset = 0;
    row.forEach((node, i) => {
      if (i > 0) {
        offset += separation(row[i - 1], node);
      }
      y[node] = offset;
    });
  }
  const place = (row: number[], neighbours: (node: number) => number[]) => {
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
      let sum = 0;
      for (const other of list) {
        sum += y[other];
      }
      const target = list.length > 0 ? sum / list.length : y[node];
      targets.push(target - offset);
      weights.push(list.length === 0 ? 0.05 : node >= n ? 2 : 1);
    });
    const fitted = isotonic(targets, weights);
    row.forEach((node, i) => (y[node] = fitted[i] + offsets[i]));
  };
  for (let pass = 0; pass < 4; pass++) {
    for (let l = 1; l < layerCount; l++) {
      place(layers[l], node => up[node]);
    }
    for (let l = layerCount - 2; l >= 0; l--) {
      place(layers[l], node => down[node]);
    }
  }
  for (let l = 0; l < layerCount; l++) {
    place(layers[l], node => [...up[node], ...down[node]]);
  }
  let top = Infinity;
  let bottom = -Infinity;
  for (let i = 0; i < total; i++) {
    top = Math.min(top, y[i] - height[i] / 2);
    bottom = Math.max(bottom, y[i] + height[i] / 2);
  }

  const columnWidth = layers.map(row => maxOf(row, node => width[node]));
  const columnX: number[] = [];
  let x = 0;
  for (let l = 0; l < layerCount; l++) {
    columnX.push(x);
    x += columnWidth[l] + opts.layerGap;
  }

  const positions = new Map<number, Point>();
  for (let i = 0; i < n; i++) {
    const l = layerOf[i];
    positions.set(members[i], {
      x: columnX[l] + (columnWidth[l] - width[i]) / 2,
      y: y[i] - height[i] / 2 - top
    });
  }
  const routes = new Map<string, Point[]>();
  for (const [a, b] of edges) {
    const flipped = reversed.has(`${a}>${b}`);
    const chain = chains.get(flipped ? `${b}>${a}` : `${a}>${b}`)!;
    if (chain.length <= 2) {
      continue;
    }
    const bends = chain.slice(1, -1).map(d => ({
      x: columnX[layerOf[d]] + columnWidth[layerOf[d]] / 2,
      y: y[d] - top
    }));
    routes.set(`${nodes[members[a]].id}>${nodes[members[b]].id}`, flipped ? bends.reverse() : bends);
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
export function isotonic(values: readonly number[], weights: readonly number[]): number[] {
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
        (mean[mean.length - 2] * weight[weight.length - 2] + mean[mean.length - 1] * weight[weight.length - 1]) / w;
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
