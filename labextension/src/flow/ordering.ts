/**
 * Step 4 of the layered layout (see layout.ts): fewer crossings by barycenter
 * sweeps, down then up, keeping the best order seen and stopping after three
 * sweeps without progress.
 */
import type { ILayered } from './layering';

/** Reorder the layers of `g` in place (`g.layers`) to reduce crossings. */
export function reduceCrossings(g: ILayered, sweeps: number): void {
  const pos = new Array<number>(g.layerOf.length).fill(0);
  numberLayers(g.layers, pos);
  const layerCount = g.layers.length;
  let best = crossings(g, pos);
  let bestLayers = g.layers.map(row => [...row]);
  let stale = 0;
  for (let sweep = 0; sweep < sweeps && best > 0; sweep++) {
    for (let l = 1; l < layerCount; l++) {
      reorder(g.layers[l], g.up, pos);
    }
    for (let l = layerCount - 2; l >= 0; l--) {
      reorder(g.layers[l], g.down, pos);
    }
    const count = crossings(g, pos);
    if (count < best) {
      best = count;
      bestLayers = g.layers.map(row => [...row]);
      stale = 0;
    } else if (++stale >= 3) {
      break;
    }
  }
  g.layers = bestLayers;
}

/** Each node's index within its layer. */
function numberLayers(layers: number[][], pos: number[]): void {
  layers.forEach(row => row.forEach((node, i) => (pos[node] = i)));
}

/** Sort a layer by the mean position of each node's neighbours (ties keep their order). */
function reorder(row: number[], neighbours: number[][], pos: number[]): void {
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
}

/** Crossings between all pairs of adjacent layers. */
function crossings(g: ILayered, pos: number[]): number {
  let count = 0;
  for (let l = 0; l + 1 < g.layers.length; l++) {
    const sequence: number[] = [];
    for (const node of g.layers[l]) {
      const targets = g.down[node].map(v => pos[v]).sort((a, b) => a - b);
      sequence.push(...targets);
    }
    count += inversions(sequence, g.layers[l + 1].length);
  }
  return count;
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
