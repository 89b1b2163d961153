import { describe, expect, it } from 'vitest';
import {
  ILayout,
  ILayoutEdge,
  ILayoutNode,
  isotonic,
  layout
} from '../src/flow/layout';
import {
  boundsOf,
  edgePath,
  fitTransform,
  nearestInDirection,
  reveal,
  zoomAt
} from '../src/flow/geometry';
import { buildGraph, nodeSize } from '../src/flow/graph';
import { IProcess } from '../src/api';
import { makeDataset, makeProcess, makeVersion } from './factories';

const box = (id: string, width = 200, height = 56): ILayoutNode => ({
  id,
  width,
  height
});
const edge = (from: string, to: string): ILayoutEdge => ({ from, to });

function rectOf(result: ILayout, node: ILayoutNode) {
  const p = result.positions.get(node.id)!;
  return { x: p.x, y: p.y, width: node.width, height: node.height };
}

/** Pairs of nodes whose boxes intersect (sweep over x, so 2,000 nodes stay cheap). */
function overlaps(result: ILayout, nodes: ILayoutNode[]): [string, string][] {
  const rects = nodes
    .map(n => ({ id: n.id, ...rectOf(result, n) }))
    .sort((a, b) => a.x - b.x);
  const found: [string, string][] = [];
  for (let i = 0; i < rects.length; i++) {
    for (
      let j = i + 1;
      j < rects.length && rects[j].x < rects[i].x + rects[i].width;
      j++
    ) {
      const a = rects[i];
      const b = rects[j];
      if (a.y < b.y + b.height && b.y < a.y + a.height) {
        found.push([a.id, b.id]);
      }
    }
  }
  return found;
}

function flowsRight(
  result: ILayout,
  nodes: ILayoutNode[],
  e: ILayoutEdge
): boolean {
  const byId = new Map(nodes.map(n => [n.id, n]));
  const from = rectOf(result, byId.get(e.from)!);
  const to = rectOf(result, byId.get(e.to)!);
  return from.x + from.width < to.x;
}

/** A deterministic pseudo-random DAG: each node takes inputs from a few earlier ones. */
function randomDag(
  count: number,
  seed = 7
): { nodes: ILayoutNode[]; edges: ILayoutEdge[] } {
  let state = seed;
  const random = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const nodes = Array.from({ length: count }, (_, i) => box(`n${i}`));
  const edges: ILayoutEdge[] = [];
  for (let i = 1; i < count; i++) {
    const inputs = Math.floor(random() * 3);
    for (let k = 0; k < inputs; k++) {
      const from = Math.max(0, i - 1 - Math.floor(random() * 30));
      edges.push(edge(`n${from}`, `n${i}`));
    }
  }
  return { nodes, edges };
}

/**
 * Edges whose route goes backwards, or whose bends or straight runs (between
 * bends at one height) pass through a node: every drawn link must keep to gaps.
 */
function blockedRoutes(
  result: ILayout,
  nodes: ILayoutNode[],
  edges: ILayoutEdge[]
): string[] {
  const rects = nodes.map(n => rectOf(result, n));
  const inside = (x0: number, x1: number, y: number) =>
    rects.some(
      r => y > r.y && y < r.y + r.height && x1 > r.x && x0 < r.x + r.width
    );
  const byId = new Map(nodes.map(n => [n.id, n]));
  const blocked: string[] = [];
  for (const e of edges) {
    const bends = result.routes.get(`${e.from}>${e.to}`) ?? [];
    const from = rectOf(result, byId.get(e.from)!);
    const to = rectOf(result, byId.get(e.to)!);
    const xs = [from.x + from.width, ...bends.map(b => b.x), to.x];
    const backwards = xs.some((x, i) => i > 0 && x < xs[i - 1]);
    const through = bends.some(
      (b, i) =>
        inside(b.x, b.x, b.y) ||
        (i > 0 && bends[i - 1].y === b.y && inside(bends[i - 1].x, b.x, b.y))
    );
    if (backwards || through) {
      blocked.push(`${e.from}>${e.to}`);
    }
  }
  return blocked;
}

/** One dataset node `u` feeding `count` processes, as a parameter sweep draws. */
function sweep(
  count: number,
  prefix = ''
): { nodes: ILayoutNode[]; edges: ILayoutEdge[] } {
  const nodes = [
    box(`${prefix}u`, 150, 30),
    ...Array.from({ length: count }, (_, i) => box(`${prefix}p${i}`))
  ];
  return { nodes, edges: nodes.slice(1).map(n => edge(`${prefix}u`, n.id)) };
}

describe('flow layout', () => {
  it('draws every link left to right, producer before consumer', () => {
    const { nodes, edges } = randomDag(300);
    const result = layout(nodes, edges);
    for (const e of edges) {
      expect(flowsRight(result, nodes, e)).toBe(true);
    }
  });

  it('never lets two nodes overlap, whatever their sizes', () => {
    const { nodes, edges } = randomDag(300);
    nodes.forEach((node, i) => {
      if (i % 3 === 0) {
        node.width = 150;
        node.height = 30;
      }
    });
    expect(overlaps(layout(nodes, edges), nodes)).toEqual([]);
  });

  it('gives the same picture for the same graph', () => {
    const { nodes, edges } = randomDag(200, 3);
    const first = layout(nodes, edges);
    const second = layout(nodes, edges);
    expect([...second.positions]).toEqual([...first.positions]);
    expect([...second.routes]).toEqual([...first.routes]);
  });

  it('lays out cycles and self-links without looping forever or overlapping', () => {
    const nodes = ['a', 'b', 'c', 'd'].map(id => box(id));
    const edges = [
      edge('a', 'b'),
      edge('b', 'c'),
      edge('c', 'a'),
      edge('c', 'd'),
      edge('d', 'd')
    ];
    const result = layout(nodes, edges);
    expect(result.positions.size).toBe(4);
    expect(overlaps(result, nodes)).toEqual([]);
    const rightward = edges.filter(
      e => e.from !== e.to && flowsRight(result, nodes, e)
    );
    expect(rightward.length).toBe(3);
  });

  it('routes a link that skips layers through bends between the columns', () => {
    const nodes = ['a', 'b', 'c', 'd'].map(id => box(id));
    const edges = [
      edge('a', 'b'),
      edge('b', 'c'),
      edge('c', 'd'),
      edge('a', 'd')
    ];
    const result = layout(nodes, edges);
    const bends = result.routes.get('a>d')!;
    expect(bends).toHaveLength(2);
    const a = result.positions.get('a')!;
    const d = result.positions.get('d')!;
    for (const bend of bends) {
      expect(bend.x).toBeGreaterThan(a.x + 200);
      expect(bend.x).toBeLessThan(d.x);
    }
    expect(result.routes.has('a>b')).toBe(false);
  });

  it('untangles links that would cross', () => {
    const nodes = ['a', 'b', 'c', 'd'].map(id => box(id));
    const result = layout(nodes, [edge('a', 'd'), edge('b', 'c')]);
    const y = (id: string) => result.positions.get(id)!.y;
    expect(Math.sign(y('a') - y('b'))).toBe(Math.sign(y('d') - y('c')));
  });

  it('puts an input right before its consumer instead of in the first column', () => {
    const nodes = ['a', 'b', 'c', 'upload'].map(id => box(id));
    const result = layout(nodes, [
      edge('a', 'b'),
      edge('b', 'c'),
      edge('upload', 'c')
    ]);
    expect(result.positions.get('upload')!.x).toBe(
      result.positions.get('b')!.x
    );
  });

  it('packs 2,000 unconnected processes into a screen-shaped grid, not one row', () => {
    const nodes = Array.from({ length: 2000 }, (_, i) => box(`p${i}`));
    const result = layout(nodes, []);
    expect(result.width / result.height).toBeGreaterThan(0.8);
    expect(result.width / result.height).toBeLessThan(3);
    expect(overlaps(result, nodes)).toEqual([]);
  });

  it('keeps chains and lone processes apart', () => {
    const nodes = [
      box('a'),
      box('b'),
      box('lone1'),
      box('lone2'),
      box('c'),
      box('d')
    ];
    const result = layout(nodes, [edge('a', 'b'), edge('c', 'd')]);
    expect(overlaps(result, nodes)).toEqual([]);
    const chainsBottom = Math.max(
      ...['a', 'b', 'c', 'd'].map(id => result.positions.get(id)!.y + 56)
    );
    expect(result.positions.get('lone1')!.y).toBeGreaterThan(chainsBottom);
  });

  it('keeps a layer of up to 40 nodes as one column', () => {
    const { nodes, edges } = sweep(40);
    const result = layout(nodes, edges);
    expect(
      new Set(nodes.slice(1).map(n => result.positions.get(n.id)!.x)).size
    ).toBe(1);
    expect(result.routes.size).toBe(0);
  });

  it('wraps a sweep of 1,000 runs into a screen-shaped grid of sub-columns', () => {
    const { nodes, edges } = sweep(1000);
    const result = layout(nodes, edges);
    expect(result.width / result.height).toBeGreaterThan(1.2);
    expect(result.width / result.height).toBeLessThan(2.4);
    expect(overlaps(result, nodes)).toEqual([]);
    for (const e of edges) {
      expect(flowsRight(result, nodes, e)).toBe(true);
    }
    const columns = new Set(
      nodes.slice(1).map(n => result.positions.get(n.id)!.x)
    );
    expect(columns.size).toBeGreaterThan(10);
    expect(blockedRoutes(result, nodes, edges)).toEqual([]);
    expect([...layout(nodes, edges).positions]).toEqual([...result.positions]);
  });

  it('routes links into, out of and across a wrapped layer along the gaps between its rows', () => {
    const { nodes, edges } = sweep(200);
    nodes.push(box('plot'), box('report'));
    edges.push(
      ...nodes.slice(1, 201).map(n => edge(n.id, 'plot')),
      edge('u', 'report'),
      edge('plot', 'report')
    );
    const result = layout(nodes, edges);
    expect(overlaps(result, nodes)).toEqual([]);
    for (const e of edges) {
      expect(flowsRight(result, nodes, e)).toBe(true);
    }
    expect(blockedRoutes(result, nodes, edges)).toEqual([]);
    const across = result.routes.get('u>report')!;
    const [enter, leave] = across;
    expect(enter.x).toBeGreaterThan(result.positions.get('u')!.x + 150);
    expect(leave.y).toBe(enter.y);
    expect(leave.x - enter.x).toBeGreaterThan(1000);
    expect(across[across.length - 1].x).toBeLessThan(
      result.positions.get('report')!.x
    );
  });

  it('lays out 2,000 nodes of sweeps, chains and lone processes', () => {
    const parts = [sweep(700, 'a'), sweep(300, 'b'), sweep(45, 'c')];
    const nodes = parts.flatMap(part => part.nodes);
    const edges = parts.flatMap(part => part.edges);
    for (let i = 0; i < 300; i++) {
      nodes.push(box(`plot${i}`));
      edges.push(edge(`ap${i}`, `plot${i}`), edge(`bp${i}`, `plot${i}`));
    }
    const { nodes: dag, edges: links } = randomDag(2000 - nodes.length, 5);
    nodes.push(...dag);
    edges.push(...links);
    expect(nodes.length).toBe(2000);
    const result = layout(nodes, edges);
    expect(result.positions.size).toBe(2000);
    expect(overlaps(result, nodes)).toEqual([]);
    for (const e of edges) {
      expect(flowsRight(result, nodes, e)).toBe(true);
    }
    expect(blockedRoutes(result, nodes, edges)).toEqual([]);
    expect(result.width / result.height).toBeGreaterThan(0.5);
    expect(result.width / result.height).toBeLessThan(4);
  });

  it('lays out a project of 2,000 processes with their links', () => {
    const processes: IProcess[] = [];
    for (let i = 1; i <= 2000; i++) {
      const inputs =
        i % 5 === 1
          ? []
          : [i - 1, ...(i % 7 === 0 ? [Math.max(1, i - 40)] : [])];
      processes.push(proc(i, inputs));
    }
    const graph = buildGraph(processes, () => undefined);
    expect(graph.edges.length).toBeGreaterThan(1500);
    const nodes = graph.nodes.map(n => ({ id: n.id, ...nodeSize(n) }));
    const result = layout(nodes, graph.edges);
    expect(result.positions.size).toBe(2000);
    expect(overlaps(result, nodes)).toEqual([]);
    for (const e of graph.edges) {
      expect(flowsRight(result, nodes, e)).toBe(true);
    }
  });
});

/** Process `id` whose one version outputs dataset `id` and reads the outputs of `inputs`. */
function proc(id: number, inputs: number[]): IProcess {
  return makeProcess(id, 't', [
    makeVersion(id, 1, { inputs, outputs: [makeDataset(id, id)] })
  ]);
}

describe('ordered placement', () => {
  it('keeps the order while staying as close as possible to the wishes', () => {
    expect(isotonic([1, 3, 2, 4], [1, 1, 1, 1])).toEqual([1, 2.5, 2.5, 4]);
    expect(isotonic([5, 0], [3, 1])).toEqual([3.75, 3.75]);
  });
});

describe('flow viewport', () => {
  it('fits the whole graph centred in the view', () => {
    const bounds = boundsOf([
      { x: 0, y: 0, width: 100, height: 50 },
      { x: 900, y: 450, width: 100, height: 50 }
    ])!;
    const t = fitTransform(bounds, 520, 300, 10);
    expect(t.k).toBe(0.5);
    expect(bounds.x * t.k + t.x).toBeGreaterThanOrEqual(10);
    expect((bounds.x + bounds.width) * t.k + t.x).toBeLessThanOrEqual(510);
    expect((bounds.y + bounds.height / 2) * t.k + t.y).toBe(150);
  });

  it('does not blow a single node up when fitting', () => {
    expect(
      fitTransform({ x: 0, y: 0, width: 200, height: 56 }, 2000, 1000).k
    ).toBe(1.25);
  });

  it('zooms around the cursor: the point under it stays put', () => {
    const before = { x: 40, y: -20, k: 0.8 };
    const after = zoomAt(before, 1.5, 300, 200);
    const graphX = (300 - before.x) / before.k;
    const graphY = (200 - before.y) / before.k;
    expect(graphX * after.k + after.x).toBeCloseTo(300);
    expect(graphY * after.k + after.y).toBeCloseTo(200);
    expect(zoomAt(before, 1e9, 0, 0).k).toBe(4);
  });

  it('pans just enough to show a node that is out of view', () => {
    const t = reveal(
      { x: 0, y: 0, k: 1 },
      { x: 1000, y: 100, width: 200, height: 56 },
      800,
      600,
      20
    );
    expect(1000 + t.x + 200).toBe(780);
    expect(t.y).toBe(0);
    expect(
      reveal(t, { x: 700, y: 100, width: 50, height: 20 }, 800, 600)
    ).toEqual(t);
  });

  it('draws an edge from the right side of the producer into the left side of the consumer', () => {
    const path = edgePath(
      { x: 0, y: 0, width: 100, height: 40 },
      { x: 300, y: 100, width: 100, height: 40 },
      [{ x: 200, y: 60 }]
    );
    expect(path.line.startsWith('M100 20C')).toBe(true);
    expect(path.line.match(/C/g)).toHaveLength(2);
    expect(path.head).toContain('L300 120');
  });

  it('moves the keyboard focus to the nearest node in the arrow direction', () => {
    const nodes = [
      { id: 'right-far', center: { x: 500, y: 0 } },
      { id: 'right', center: { x: 250, y: 30 } },
      { id: 'below', center: { x: 0, y: 80 } },
      { id: 'left', center: { x: -250, y: 0 } }
    ];
    const from = { x: 0, y: 0 };
    expect(nearestInDirection(from, nodes, 'right')).toBe('right');
    expect(nearestInDirection(from, nodes, 'down')).toBe('below');
    expect(nearestInDirection(from, nodes, 'left')).toBe('left');
    expect(nearestInDirection(from, nodes, 'up')).toBeNull();
  });
});
