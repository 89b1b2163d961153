import { describe, expect, it } from 'vitest';
import { IDataset, State, IVersion } from '../src/api';
import { buildGraph, edgesKey, layoutKey } from '../src/flow/graph';
import { makeDataset, makeProcess, makeVersion } from './factories';

/** Version `n` of `process` reading `inputs` and writing `outputs`: the links these tests are about. */
function version(
  process: number,
  n: number,
  inputs: number[],
  outputs: IDataset[] = [],
  state: State = 'completed',
  extra: Partial<IVersion> = {}
): IVersion {
  return makeVersion(process, n, { inputs, outputs, state, ...extra });
}

const none = () => undefined;

describe('flow graph', () => {
  it('links a process to the process whose output it reads', () => {
    const signal = makeProcess(1, 'synthetic-signal', [
      version(1, 1, [], [makeDataset(10, 1)])
    ]);
    const fft = makeProcess(2, 'fft', [version(2, 1, [10])]);
    const graph = buildGraph([fft, signal], none);
    expect(graph.nodes.map(n => n.id)).toEqual(['p1', 'p2']);
    expect(graph.edges).toEqual([
      { from: 'p1', to: 'p2', current: true, datasets: [10] }
    ]);
  });

  it('finds the producer through the store when the output is not in a version yet', () => {
    const signal = makeProcess(1, 'synthetic-signal', [version(1, 1, [])]);
    const fft = makeProcess(2, 'fft', [version(2, 1, [10])]);
    const graph = buildGraph([signal, fft], id =>
      id === 10 ? makeDataset(10, 1) : undefined
    );
    expect(graph.edges.map(e => [e.from, e.to])).toEqual([['p1', 'p2']]);
  });

  it('shows an uploaded input as a small dataset node feeding its consumers', () => {
    const upload = makeDataset(7, null, { name: 'stations.csv' });
    const a = makeProcess(1, 'inversion', [version(1, 1, [7])]);
    const b = makeProcess(2, 'inversion', [version(2, 1, [7])]);
    const graph = buildGraph([a, b], id => (id === 7 ? upload : undefined));
    expect(graph.nodes.at(-1)).toEqual({
      kind: 'dataset',
      id: 'd7',
      datasetId: 7,
      name: 'stations.csv'
    });
    expect(graph.edges.map(e => [e.from, e.to])).toEqual([
      ['d7', 'p1'],
      ['d7', 'p2']
    ]);
  });

  it('still shows an input whose dataset is unknown', () => {
    const graph = buildGraph(
      [makeProcess(1, 'fft', [version(1, 1, [99])])],
      none
    );
    expect(graph.nodes[1]).toMatchObject({
      kind: 'dataset',
      name: 'dataset 99'
    });
  });

  it('keeps the links of older versions once, faded unless the latest version still uses them', () => {
    const signal = makeProcess(1, 'synthetic-signal', [
      version(1, 1, [], [makeDataset(10, 1)]),
      version(1, 2, [], [makeDataset(11, 1)])
    ]);
    const other = makeProcess(3, 'synthetic-signal', [
      version(3, 1, [], [makeDataset(30, 3)])
    ]);
    const fft = makeProcess(2, 'fft', [
      version(2, 1, [10]),
      version(2, 2, [11]),
      version(2, 3, [30])
    ]);
    const graph = buildGraph([signal, fft, other], none);
    expect(graph.edges).toEqual([
      { from: 'p1', to: 'p2', current: false, datasets: [10, 11] },
      { from: 'p3', to: 'p2', current: true, datasets: [30] }
    ]);
  });

  it('ignores a process reading its own earlier output', () => {
    const p = makeProcess(1, 'inversion', [
      version(1, 1, [], [makeDataset(10, 1)]),
      version(1, 2, [10])
    ]);
    expect(buildGraph([p], none).edges).toEqual([]);
  });

  it('shows the latest version: state badge, number, progress while running', () => {
    const p = makeProcess(1, 'sleep', [
      version(1, 1, [], [], 'failed', { reason: 'cancelled' }),
      version(1, 2, [], [], 'running', { progress: 0.4 })
    ]);
    expect(buildGraph([p], none).nodes[0]).toMatchObject({
      badge: 'running',
      version: 2,
      progress: 0.4
    });
    p.versions.pop();
    expect(buildGraph([p], none).nodes[0]).toMatchObject({
      badge: 'cancelled',
      version: 1,
      progress: null
    });
  });

  it('only asks for a new layout when nodes or links change, not states', () => {
    const signal = makeProcess(1, 'synthetic-signal', [
      version(1, 1, [], [makeDataset(10, 1)], 'running')
    ]);
    const fft = makeProcess(2, 'fft', [version(2, 1, [10], [], 'queued')]);
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
    const third = buildGraph([signal, fft, makeProcess(3, 'fft', [])], none);
    expect(layoutKey(third)).not.toBe(layoutKey(before));
  });
});
