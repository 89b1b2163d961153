import { describe, expect, it } from 'vitest';
import { Dataset, Process, State, Version } from '../src/api';
import { buildGraph, edgesKey, layoutKey } from '../src/flow/graph';

function dataset(id: number, process: number | null, name = `data${id}`): Dataset {
  return {
    id,
    project: 1,
    name,
    key: '',
    mime_type: 'application/json',
    size: 1,
    created: '',
    process,
    version: process === null ? null : 1,
    variables: [],
    dims: {}
  };
}

function version(
  process: number,
  n: number,
  inputs: number[],
  outputs: Dataset[] = [],
  state: State = 'completed',
  extra: Partial<Version> = {}
): Version {
  return {
    process,
    version: n,
    state,
    reason: null,
    message: null,
    progress: null,
    parameters: {},
    resources: { cpu: 1, memory: '512Mi', deadline_seconds: 60 },
    created: '',
    started: null,
    finished: null,
    cost: { estimated: 0, actual: null },
    inputs,
    outputs,
    log_lines: 0,
    ...extra
  };
}

function process(id: number, type: string, versions: Version[]): Process {
  return { id, project: 1, type, name: `${type}-${id}`, created: '', versions };
}

const none = () => undefined;

describe('flow graph', () => {
  it('links a process to the process whose output it reads', () => {
    const signal = process(1, 'synthetic-signal', [version(1, 1, [], [dataset(10, 1)])]);
    const fft = process(2, 'fft', [version(2, 1, [10])]);
    const graph = buildGraph([fft, signal], none);
    expect(graph.nodes.map(n => n.id)).toEqual(['p1', 'p2']);
    expect(graph.edges).toEqual([{ from: 'p1', to: 'p2', current: true, datasets: [10] }]);
  });

  it('finds the producer through the store when the output is not in a version yet', () => {
    const signal = process(1, 'synthetic-signal', [version(1, 1, [])]);
    const fft = process(2, 'fft', [version(2, 1, [10])]);
    const graph = buildGraph([signal, fft], id => (id === 10 ? dataset(10, 1) : undefined));
    expect(graph.edges.map(e => [e.from, e.to])).toEqual([['p1', 'p2']]);
  });

  it('shows an uploaded input as a small dataset node feeding its consumers', () => {
    const upload = dataset(7, null, 'stations.csv');
    const a = process(1, 'inversion', [version(1, 1, [7])]);
    const b = process(2, 'inversion', [version(2, 1, [7])]);
    const graph = buildGraph([a, b], id => (id === 7 ? upload : undefined));
    expect(graph.nodes.at(-1)).toEqual({ kind: 'dataset', id: 'd7', datasetId: 7, name: 'stations.csv' });
    expect(graph.edges.map(e => [e.from, e.to])).toEqual([
      ['d7', 'p1'],
      ['d7', 'p2']
    ]);
  });

  it('still shows an input whose dataset is unknown', () => {
    const graph = buildGraph([process(1, 'fft', [version(1, 1, [99])])], none);
    expect(graph.nodes[1]).toMatchObject({ kind: 'dataset', name: 'dataset 99' });
  });

  it('keeps the links of older versions once, faded unless the latest version still uses them', () => {
    const signal = process(1, 'synthetic-signal', [version(1, 1, [], [dataset(10, 1)]), version(1, 2, [], [dataset(11, 1)])]);
    const other = process(3, 'synthetic-signal', [version(3, 1, [], [dataset(30, 3)])]);
    const fft = process(2, 'fft', [version(2, 1, [10]), version(2, 2, [11]), version(2, 3, [30])]);
    const graph = buildGraph([signal, fft, other], none);
    expect(graph.edges).toEqual([
      { from: 'p1', to: 'p2', current: false, datasets: [10, 11] },
      { from: 'p3', to: 'p2', current: true, datasets: [30] }
    ]);
  });

  it('ignores a process reading its own earlier output', () => {
    const p = process(1, 'inversion', [version(1, 1, [], [dataset(10, 1)]), version(1, 2, [10])]);
    expect(buildGraph([p], none).edges).toEqual([]);
  });

  it('shows the latest version: state badge, number, progress while running', () => {
    const p = process(1, 'sleep', [
      version(1, 1, [], [], 'failed', { reason: 'cancelled' }),
      version(1, 2, [], [], 'running', { progress: 0.4 })
    ]);
    expect(buildGraph([p], none).nodes[0]).toMatchObject({ badge: 'running', version: 2, progress: 0.4 });
    p.versions.pop();
    expect(buildGraph([p], none).nodes[0]).toMatchObject({ badge: 'cancelled', version: 1, progress: null });
  });

  it('only asks for a new layout when nodes or links change, not states', () => {
    const signal = process(1, 'synthetic-signal', [version(1, 1, [], [dataset(10, 1)], 'running')]);
    const fft = process(2, 'fft', [version(2, 1, [10], [], 'queued')]);
    const before = buildGraph([signal, fft], none);
    signal.versions[0].state = 'completed';
    fft.versions[0].state = 'running';
    const after = buildGraph([signal, fft], none);
    expect(layoutKey(after)).toBe(layoutKey(before));
    expect(edgesKey(after)).toBe(edgesKey(before));
    fft.versions.push(version(2, 2, []));
    const newer = buildGraph([signal, fft], none);
    expect(layoutKey(newer)).toBe(layoutKey(before));
    expect(edgesKey(newer)).not.toBe(edgesKey(before));
    const third = buildGraph([signal, fft, process(3, 'fft', [])], none);
    expect(layoutKey(third)).not.toBe(layoutKey(before));
  });
});
