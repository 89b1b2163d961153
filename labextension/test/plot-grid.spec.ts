import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IDatasetGrid, IDatasetView, IGridQuery } from '../src/api';
import {
  EMPTY_CONFIG,
  seriesSchema,
  toggleVariable,
  withDatasets
} from '../src/plot/config';
import {
  defaultVariables,
  gridVariables,
  plottableDatasets,
  plottableVariables
} from '../src/plot/datasets';
import {
  buildGridFigure,
  gridQuery,
  gridStatusText,
  IResolvedGrid
} from '../src/plot/grid';
import type { IGraphDiv, Layout, Trace } from '../src/plot/plotly';
import { rangeChanges } from '../src/plot/zoom';
import { dataset, survey, THEME } from './plot-fixtures';

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

/** An inversion's model: density contrast over latitude x longitude, no 1-D data. */
const model = (id: number) =>
  dataset(
    id,
    [
      {
        name: 'latitude',
        units: 'degrees_north',
        long_name: 'Latitude',
        dims: ['latitude']
      },
      {
        name: 'longitude',
        units: 'degrees_east',
        long_name: 'Longitude',
        dims: ['longitude']
      },
      {
        name: 'density_contrast',
        units: 'kg/m^3',
        long_name: 'Density contrast',
        dims: ['latitude', 'longitude']
      }
    ],
    { name: 'model.nc', dims: { latitude: 15, longitude: 20 } }
  );

const resolved: IResolvedGrid = {
  dataset: 7,
  variable: 'density_contrast',
  mode: 'heatmap',
  label: 'inv v1 · density_contrast',
  zTitle: 'Density contrast',
  unit: 'kg/m^3',
  xTitle: 'Longitude',
  xUnit: 'degrees_east',
  yTitle: 'Latitude',
  yUnit: 'degrees_north'
};

function grid(
  query: IGridQuery,
  total: [number, number] = [1000, 1200]
): IDatasetGrid {
  const zoomed = query.x0 !== undefined;
  const inRange: [number, number] = zoomed ? [100, 120] : total;
  const shape: [number, number] = [
    Math.min(query.height, inRange[0]),
    Math.min(query.width, inRange[1])
  ];
  return {
    dataset: 7,
    dims: ['latitude', 'longitude'],
    total,
    in_range: inRange,
    shape,
    block: [Math.ceil(inRange[0] / shape[0]), Math.ceil(inRange[1] / shape[1])],
    reduce: 'mean',
    decimated: shape[0] < inRange[0] || shape[1] < inRange[1],
    x: {
      name: 'longitude',
      units: 'degrees_east',
      long_name: 'Longitude',
      values: Array.from({ length: shape[1] }, (_, i) => i)
    },
    y: {
      name: 'latitude',
      units: 'degrees_north',
      long_name: 'Latitude',
      values: Array.from({ length: shape[0] }, (_, i) => i)
    },
    z: {
      name: query.z,
      units: 'kg/m^3',
      long_name: 'Density contrast',
      values: Array.from({ length: shape[0] }, () =>
        Array.from({ length: shape[1] }, () => 1)
      )
    }
  };
}

describe('2-D variables in the plot view', () => {
  it('offers 2-D variables and makes a model without 1-D data default to its grid', () => {
    expect(gridVariables(model(7)).map(v => v.name)).toEqual([
      'density_contrast'
    ]);
    expect(plottableVariables(model(7)).map(v => v.name)).toEqual([
      'density_contrast'
    ]);
    expect(defaultVariables(model(7)).map(v => v.name)).toEqual([
      'density_contrast'
    ]);
    expect(plottableDatasets([model(7)]).map(d => d.id)).toEqual([7]);
    // A survey still defaults to its anomaly alone.
    expect(defaultVariables(survey(3)).map(v => v.name)).toEqual([
      'gravity_anomaly'
    ]);
    const config = withDatasets(EMPTY_CONFIG, [7], [model(7)]);
    expect(config.series).toMatchObject([
      { dataset: 7, variable: 'density_contrast', mode: 'heatmap' }
    ]);
  });

  it('plots a grid alone: adding one replaces the series, adding a 1-D variable removes the grid', () => {
    const lines = withDatasets(EMPTY_CONFIG, [3], [survey(3)]);
    const gridded = toggleVariable(lines, 7, 'density_contrast', true);
    expect(gridded.series.map(s => [s.variable, s.mode])).toEqual([
      ['density_contrast', 'heatmap']
    ]);
    const back = toggleVariable(gridded, 3, 'gravity_anomaly');
    expect(back.series.map(s => [s.variable, s.mode])).toEqual([
      ['gravity_anomaly', 'lines']
    ]);
  });

  it('offers heatmap and contours only when a dataset has a grid', () => {
    const modes = (datasets: ReturnType<typeof model>[]) => {
      const items = (seriesSchema(datasets, []) as any).properties.series.items;
      return items.properties.mode.oneOf.map((o: { const: string }) => o.const);
    };
    expect(modes([survey(3)])).not.toContain('heatmap');
    expect(modes([survey(3), model(7)])).toEqual([
      'lines',
      'markers',
      'lines+markers',
      'heatmap',
      'contour'
    ]);
  });

  it('requests one cell per pixel within the zoomed x and y ranges', () => {
    expect(gridQuery(resolved, { width: 640, height: 380 })).toEqual({
      z: 'density_contrast',
      width: 640,
      height: 380
    });
    expect(
      gridQuery(resolved, { width: 5000, height: 3 }, [8, 9], [46, 47])
    ).toEqual({
      z: 'density_contrast',
      width: 2000,
      height: 16,
      x0: 8,
      x1: 9,
      y0: 46,
      y1: 47
    });
  });

  it('draws one heatmap trace with the unit in the colour bar and on the axes', () => {
    const view = grid(
      { z: 'density_contrast', width: 20, height: 15 },
      [15, 20]
    );
    const figure = buildGridFigure(
      resolved,
      view,
      THEME,
      { width: 600, height: 400 },
      'r'
    );
    expect(figure.data).toHaveLength(1);
    expect(figure.data[0]).toMatchObject({
      type: 'heatmap',
      z: view.z.values,
      x: view.x.values,
      y: view.y.values
    });
    expect((figure.data[0].colorbar as any).title.text).toBe(
      'Density contrast [kg/m^3]'
    );
    expect((figure.layout.xaxis as any).title.text).toBe(
      'Longitude [degrees_east]'
    );
    expect((figure.layout.yaxis as any).title.text).toBe(
      'Latitude [degrees_north]'
    );
    const contour = buildGridFigure(
      { ...resolved, mode: 'contour' },
      view,
      THEME,
      { width: 600, height: 400 },
      'r'
    );
    expect(contour.data[0].type).toBe('contour');
  });

  it('reads y ranges from relayout events as well as x ranges', () => {
    const event = {
      'xaxis.range[0]': 2,
      'xaxis.range[1]': 1,
      'yaxis.range[0]': 46,
      'yaxis.range[1]': 47
    };
    expect(rangeChanges(event)).toEqual(new Map([['xaxis', [1, 2]]]));
    expect(rangeChanges(event, 'y')).toEqual(new Map([['yaxis', [46, 47]]]));
    expect(rangeChanges({ 'yaxis.autorange': true }, 'y')).toEqual(
      new Map([['yaxis', null]])
    );
  });

  it('says how many cells were sent of how many', () => {
    expect(
      gridStatusText({
        shape: [400, 600],
        in_range: [1000, 1200],
        total: [1000, 1200],
        decimated: true
      })
    ).toBe('decimated: 400 × 600 of 1000 × 1200 cells');
    expect(
      gridStatusText({
        shape: [10, 12],
        in_range: [10, 12],
        total: [1000, 1200],
        decimated: false
      })
    ).toBe('10 × 12 cells in range (1000 × 1200 in all), full resolution');
  });
});

class NoResize {
  observe(): void {}
  disconnect(): void {}
}

const settle = () => new Promise(resolve => setTimeout(resolve, 0));

describe('plot graph with a grid', () => {
  let calls: { id: number; query: IGridQuery }[];
  let graph: InstanceType<typeof SeriesGraph>;

  beforeEach(() => {
    vi.stubGlobal('ResizeObserver', NoResize);
    plotly.drawn = [];
    plotly.relayout = null;
    calls = [];
    const client = {
      datasetGrid: async (id: number, query: IGridQuery) => {
        calls.push({ id, query });
        return grid(query);
      },
      datasetView: async (): Promise<IDatasetView> => {
        throw new Error('no 1-D view expected');
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

  it('fetches the grid at the plot size, draws it alone and refetches the zoomed x/y range', async () => {
    graph.setSeries([], resolved);
    await settle();
    await settle();
    expect(calls).toEqual([
      { id: 7, query: { z: 'density_contrast', width: 800, height: 400 } }
    ]);
    const drawn = plotly.drawn.at(-1);
    expect(drawn?.data).toHaveLength(1);
    expect(drawn?.data[0].type).toBe('heatmap');
    expect(graph.status.text).toBe('decimated: 400 × 800 of 1000 × 1200 cells');
    plotly.relayout?.({
      'xaxis.range[0]': 8,
      'xaxis.range[1]': 9,
      'yaxis.range[0]': 46,
      'yaxis.range[1]': 47
    });
    await settle();
    await settle();
    expect(calls.at(-1)?.query).toEqual({
      z: 'density_contrast',
      width: 800,
      height: 400,
      x0: 8,
      x1: 9,
      y0: 46,
      y1: 47
    });
    expect(graph.status.text).toBe(
      '100 × 120 cells in range (1000 × 1200 in all), full resolution'
    );
    plotly.relayout?.({ 'xaxis.autorange': true, 'yaxis.autorange': true });
    await settle();
    await settle();
    expect(calls.at(-1)?.query).toEqual({
      z: 'density_contrast',
      width: 800,
      height: 400
    });
  });
});
