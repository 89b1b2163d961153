import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, IDatasetGrid, IDatasetView, IViewQuery } from '../src/api';
import type { IGraphDiv, Layout, Trace } from '../src/plot/plotly';

/** Plotly stand-in: records what it was asked to draw and lets a test fire relayout events. */
const plotly = vi.hoisted(() => ({
  drawn: [] as { data: Trace[]; layout: Layout }[],
  relayout: null as ((event: Record<string, unknown>) => void) | null
}));

vi.mock('../src/plot/plotly', async original => ({
  ...(await original<typeof import('../src/plot/plotly')>()),
  loadPlotly: async () => ({
    react: async (element: HTMLElement, data: Trace[], layout: Layout) => {
      plotly.drawn.push({ data, layout });
      const graph = element as IGraphDiv;
      graph.on = (_event, handler) => {
        plotly.relayout = handler;
      };
      return graph;
    },
    purge: () => undefined,
    Plots: { resize: () => undefined }
  })
}));

const { SeriesGraph } = await import('../src/plot/graph');
type Resolved = import('../src/plot/graph').IResolvedSeries;

function view(query: IViewQuery, total = 100000): IDatasetView {
  const points = Math.min(query.points ?? 2000, total);
  return {
    dataset: 1,
    dimension: 'time',
    total,
    in_range: query.x0 === undefined ? total : 5000,
    decimated: points < total,
    x: {
      name: 'time',
      units: 's',
      long_name: 'Time',
      values: Array.from({ length: points }, (_, i) => i)
    },
    y: (query.y ?? []).map(name => ({
      name,
      units: 'nm',
      long_name: name,
      values: Array.from({ length: points }, () => 1)
    }))
  };
}

const series = (
  dataset: number,
  variable = 'amplitude',
  unit = 'nm'
): Resolved => ({
  dataset,
  variable,
  dimension: 'time',
  xVariable: 'time',
  label: `${dataset} ${variable}`,
  mode: 'lines',
  color: '#1f77b4',
  yTitle: 'Signal amplitude',
  unit,
  xTitle: 'Time',
  xUnit: 's'
});

/** Let pending promises (fetches, draws) settle. */
const settle = () => new Promise(resolve => setTimeout(resolve, 0));

class NoResize {
  observe(): void {}
  disconnect(): void {}
}

describe('plot graph', () => {
  let calls: { id: number; query: IViewQuery }[];
  let answer: (id: number, query: IViewQuery) => Promise<IDatasetView>;
  let graph: InstanceType<typeof SeriesGraph>;

  beforeEach(() => {
    vi.stubGlobal('ResizeObserver', NoResize);
    plotly.drawn = [];
    plotly.relayout = null;
    calls = [];
    answer = async (_id, query) => view(query);
    const client = {
      datasetView: (id: number, query: IViewQuery) => {
        calls.push({ id, query });
        return answer(id, query);
      },
      datasetGrid: async (): Promise<IDatasetGrid> => {
        throw new Error('no grid expected');
      }
    };
    graph = new SeriesGraph(client);
    Object.defineProperty(graph.node, 'clientWidth', { value: 800 });
    Object.defineProperty(graph.node, 'clientHeight', { value: 400 });
  });

  afterEach(() => {
    graph.dispose();
    vi.unstubAllGlobals();
  });

  it('fetches about as many points as the plot is wide and says how many were left out', async () => {
    graph.setSeries([series(1)]);
    await settle();
    expect(calls).toEqual([
      {
        id: 1,
        query: {
          x: 'time',
          y: ['amplitude'],
          points: 800,
          x0: undefined,
          x1: undefined
        }
      }
    ]);
    expect(graph.status.text).toBe('decimated: 800 of 100000 points');
    expect(plotly.drawn.at(-1)?.data).toHaveLength(1);
  });

  it('asks once for all variables of one dataset', async () => {
    graph.setSeries([series(1, 'a'), series(1, 'b'), series(2)]);
    await settle();
    expect(calls.map(c => [c.id, c.query.y])).toEqual([
      [1, ['a', 'b']],
      [2, ['amplitude']]
    ]);
  });

  it('does not fetch again when only the look of a series changes', async () => {
    graph.setSeries([series(1)]);
    await settle();
    graph.setSeries([{ ...series(1), color: '#d62728', mode: 'markers' }]);
    await settle();
    expect(calls).toHaveLength(1);
    expect(plotly.drawn.at(-1)?.data[0]).toMatchObject({ mode: 'markers' });
  });

  it('fetches the zoomed range at full resolution and the whole range again on double-click', async () => {
    graph.setSeries([series(1)]);
    await settle();
    plotly.relayout?.({ 'xaxis.range[0]': 10, 'xaxis.range[1]': 20 });
    await settle();
    expect(calls.at(-1)?.query).toMatchObject({ x0: 10, x1: 20, points: 800 });
    expect(graph.status.text).toBe(
      'decimated: 800 of 5000 points in range (100000 in all)'
    );
    plotly.relayout?.({ 'xaxis.autorange': true, 'yaxis.autorange': true });
    await settle();
    expect(calls.at(-1)?.query).toMatchObject({ x0: undefined, x1: undefined });
    expect(graph.status.text).toBe('decimated: 800 of 100000 points');
  });

  it('keeps the zoom for a series in the same x unit and starts afresh when a new x axis appears', async () => {
    graph.setSeries([series(1)]);
    await settle();
    plotly.relayout?.({ 'xaxis.range[0]': 10, 'xaxis.range[1]': 20 });
    await settle();
    graph.setSeries([series(1), series(2)]);
    await settle();
    expect(calls.at(-1)).toMatchObject({ id: 2, query: { x0: 10, x1: 20 } });
    graph.setSeries([
      series(1),
      series(2),
      { ...series(3), dimension: 'frequency', xUnit: 'Hz' }
    ]);
    await settle();
    await settle();
    expect(calls.filter(c => c.id === 1).at(-1)?.query).toMatchObject({
      x0: undefined,
      x1: undefined
    });
    expect(plotly.drawn.at(-1)?.layout.uirevision).toBe(
      JSON.stringify(['s', 'Hz'])
    );
  });

  it('ignores relayout events that do not move the x axis', async () => {
    graph.setSeries([series(1)]);
    await settle();
    plotly.relayout?.({ 'yaxis.range[0]': 0, 'yaxis.range[1]': 1 });
    plotly.relayout?.({ autosize: true });
    await settle();
    expect(calls).toHaveLength(1);
  });

  it('drops a slow answer the user has zoomed past', async () => {
    let releaseFirstZoom: () => void = () => undefined;
    answer = (_id, query) =>
      query.x0 === 10
        ? new Promise(resolve => {
            releaseFirstZoom = () =>
              resolve({ ...view(query), in_range: 1234 });
          })
        : Promise.resolve(view(query));
    graph.setSeries([series(1)]);
    await settle();
    plotly.relayout?.({ 'xaxis.range[0]': 10, 'xaxis.range[1]': 20 });
    await settle();
    plotly.relayout?.({ 'xaxis.range[0]': 30, 'xaxis.range[1]': 40 });
    await settle();
    releaseFirstZoom();
    await settle();
    expect(calls.map(c => c.query.x0)).toEqual([undefined, 10, 30]);
    expect(graph.status.text).toBe(
      'decimated: 800 of 5000 points in range (100000 in all)'
    );
  });

  it('shows the error of a dataset that cannot be read and still draws the others', async () => {
    answer = async (id, query) => {
      if (id === 2) {
        throw new ApiError(
          400,
          'validation_failed',
          "/y: no variable 'amplitude'",
          null
        );
      }
      return view(query);
    };
    graph.setSeries([series(1), series(2)]);
    await settle();
    expect(graph.status.errors).toEqual([
      "dataset 2: /y: no variable 'amplitude'"
    ]);
    expect(plotly.drawn.at(-1)?.data).toHaveLength(1);
  });
});
