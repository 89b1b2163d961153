/**
 * Steps 1 to 3 of the layered layout (see layout.ts), for one connected
 * component: break cycles, assign layers, and put dummy nodes on edges that
 * span several layers, so that every segment joins adjacent layers.
 *
 * Nodes are numbered locally: the component's real nodes are 0..n-1 in the
 * order of `members`, dummy nodes (the bends of long edges) follow.
 */
import type { ILayoutNode } from './layout';
import { maxOf } from './numbers';

/** A component as layers of real and dummy nodes, linked between adjacent layers. */
export interface ILayered {
  /** Real nodes: 0..n-1; dummy nodes are numbered from n on. */
  n: number;
  /** The component's edges in local numbers, as given (before breaking cycles). */
  edges: [number, number][];
  /** Edges turned around to break cycles, by `${from}>${to}`. */
  reversed: Set<string>;
  /** Each layered edge's chain of nodes, upper layer to lower, by `${u}>${v}` of its acyclic direction. */
  chains: Map<string, number[]>;
  layerOf: number[];
  width: number[];
  height: number[];
  /** Neighbours in the layer above and below, through dummy nodes. */
  up: number[][];
  down: number[][];
  /** Nodes of each layer, in their current order. */
  layers: number[][];
}

/** Steps 1 to 3 for the component of `members` (indices into `nodes`) linked by `pairs` (same indices). */
export function layerComponent(
  nodes: readonly ILayoutNode[],
  members: number[],
  pairs: [number, number][]
): ILayered {
  const n = members.length;
  const local = new Map(members.map((global, i) => [global, i]));
  const edges = pairs.map(
    ([a, b]) => [local.get(a)!, local.get(b)!] as [number, number]
  );
  const reversed = breakCycles(n, edges);
  const dag = new Map<string, [number, number]>();
  for (const [a, b] of edges) {
    const [u, v] = reversed.has(`${a}>${b}`) ? [b, a] : [a, b];
    dag.set(`${u}>${v}`, [u, v]);
  }
  const layer = assignLayers(n, dag.values());
  const layered = insertDummies(nodes, members, layer, dag);
  return { n, edges, reversed, ...layered };
}

/**
 * Step 1: the edges closing a cycle in a depth-first search (started at
 * sources first), to be reversed, by `${from}>${to}`.
 */
function breakCycles(n: number, edges: [number, number][]): Set<string> {
  const out: number[][] = Array.from({ length: n }, () => []);
  const inDegree = new Array<number>(n).fill(0);
  for (const [a, b] of edges) {
    out[a].push(b);
    inDegree[b]++;
  }
  const reversed = new Set<string>();
  const mark = new Array<number>(n).fill(0);
  const roots = [...out.keys()].sort(
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
  return reversed;
}

/**
 * Step 2: longest-path layers in topological order, then every source moved
 * one layer before its nearest consumer.
 */
function assignLayers(n: number, dag: Iterable<[number, number]>): number[] {
  const succ: number[][] = Array.from({ length: n }, () => []);
  const pred: number[][] = Array.from({ length: n }, () => []);
  for (const [u, v] of dag) {
    succ[u].push(v);
    pred[v].push(u);
  }
  const layer = new Array<number>(n).fill(0);
  const remaining = pred.map(list => list.length);
  const queue = [...pred.keys()].filter(i => remaining[i] === 0);
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
      layer[u] = -maxOf(succ[u], v => -layer[v]) - 1;
    }
  }
  return layer;
}

/** Step 3: dummy nodes on long edges; every segment then joins adjacent layers. */
function insertDummies(
  nodes: readonly ILayoutNode[],
  members: number[],
  layer: number[],
  dag: Map<string, [number, number]>
): Omit<ILayered, 'n' | 'edges' | 'reversed'> {
  const height: number[] = members.map(g => nodes[g].height);
  const width: number[] = members.map(g => nodes[g].width);
  const layerOf = [...layer];
  const up: number[][] = members.map(() => []);
  const down: number[][] = members.map(() => []);
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
  const layerCount = maxOf(layerOf, l => l) + 1;
  const layers: number[][] = Array.from({ length: layerCount }, () => []);
  for (let i = 0; i < layerOf.length; i++) {
    layers[layerOf[i]].push(i);
  }
  return { chains, layerOf, width, height, up, down, layers };
}
