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
 *
 * This module splits the graph into components and packs them; the steps
 * live in layering.ts (1-3), ordering.ts (4), placement.ts (5-6) and
 * routing.ts (columns and bends).
 */
import { layerComponent } from './layering';
import { maxOf } from './numbers';
import { reduceCrossings } from './ordering';
import { verticalPositions, wrapLayers } from './placement';
import { IComponent, routeComponent } from './routing';

export { isotonic } from './placement';

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
  const pairs = indexPairs(nodes, edges);
  const components: IComponent[] = [];
  const lone: number[] = [];
  for (const { members, pairs: linked } of connectedComponents(
    nodes.length,
    pairs
  )) {
    if (members.length === 1) {
      lone.push(members[0]);
    } else {
      components.push(layoutComponent(nodes, members, linked, opts));
    }
  }
  components.sort((a, b) => b.size - a.size || a.first - b.first);
  return pack(nodes, components, lone, opts);
}

/** One component, steps 1 to 6 and its routes. */
function layoutComponent(
  nodes: readonly ILayoutNode[],
  members: number[],
  pairs: [number, number][],
  opts: ILayoutOptions
): IComponent {
  const layered = layerComponent(nodes, members, pairs);
  reduceCrossings(layered, opts.sweeps);
  const grid = wrapLayers(layered, opts);
  const y = verticalPositions(layered, grid, opts);
  return routeComponent(nodes, members, layered, grid, y, opts);
}

/** Edges as pairs of node indices, without self-loops, duplicates or unknown ends. */
function indexPairs(
  nodes: readonly ILayoutNode[],
  edges: readonly ILayoutEdge[]
): [number, number][] {
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
  return pairs;
}

/**
 * Weakly connected components (union-find), each with its nodes in input
 * order and its pairs, in the order of their smallest node.
 */
function connectedComponents(
  count: number,
  pairs: [number, number][]
): { members: number[]; pairs: [number, number][] }[] {
  const parent = Array.from({ length: count }, (_, i) => i);
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
  const byRoot = new Map<
    number,
    { members: number[]; pairs: [number, number][] }
  >();
  for (let i = 0; i < count; i++) {
    const root = find(i);
    const component = byRoot.get(root) ?? { members: [], pairs: [] };
    component.members.push(i);
    byRoot.set(root, component);
  }
  for (const pair of pairs) {
    byRoot.get(find(pair[0]))!.pairs.push(pair);
  }
  return [...byRoot.values()];
}

/**
 * Components in rows, biggest first, each row as wide as makes the whole
 * about `aspect` times as wide as tall; then the nodes without edges in a
 * grid below them.
 */
function pack(
  nodes: readonly ILayoutNode[],
  components: IComponent[],
  lone: number[],
  opts: ILayoutOptions
): ILayout {
  const positions = new Map<string, IPoint>();
  const routes = new Map<string, IPoint[]>();
  const gap = opts.componentGap;
  const cell = loneCell(nodes, lone, opts);
  let area =
    lone.length * (cell.width + cell.gapX) * (cell.height + opts.nodeGap);
  let widest = cell.width;
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
    const grid = placeLone(nodes, lone, cell, targetWidth, top, positions);
    width = Math.max(width, grid.width);
    height = top + grid.rows * (cell.height + cell.gapY) - cell.gapY;
  }
  return { positions, routes, width, height };
}

/** The cell of the grid of lone nodes: their widest and tallest, and the gap between columns. */
function loneCell(
  nodes: readonly ILayoutNode[],
  lone: number[],
  opts: ILayoutOptions
): { width: number; height: number; gapX: number; gapY: number } {
  return {
    width: maxOf(lone, i => nodes[i].width),
    height: maxOf(lone, i => nodes[i].height),
    gapX: opts.nodeGap * 2,
    gapY: opts.nodeGap
  };
}

/** Lone nodes in a grid of `cell`s at most `targetWidth` wide, from `top` down; returns its width and rows. */
function placeLone(
  nodes: readonly ILayoutNode[],
  lone: number[],
  cell: ReturnType<typeof loneCell>,
  targetWidth: number,
  top: number,
  positions: Map<string, IPoint>
): { width: number; rows: number } {
  const columns = Math.max(
    1,
    Math.floor((targetWidth + cell.gapX) / (cell.width + cell.gapX))
  );
  lone.forEach((i, k) => {
    const node = nodes[i];
    const column = k % columns;
    const row = Math.floor(k / columns);
    positions.set(node.id, {
      x: column * (cell.width + cell.gapX) + (cell.width - node.width) / 2,
      y: top + row * (cell.height + cell.gapY) + (cell.height - node.height) / 2
    });
  });
  return {
    width:
      Math.min(lone.length, columns) * (cell.width + cell.gapX) - cell.gapX,
    rows: Math.ceil(lone.length / columns)
  };
}
