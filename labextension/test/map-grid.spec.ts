import { describe, expect, it } from 'vitest';
import { IBaseMap } from '../src/plot/basemap';
import {
  geoGrids,
  geoVariables,
  mapLayersOf,
  mappableDatasets
} from '../src/plot/datasets';
import {
  cellEdges,
  gridExtent,
  gridTrace,
  IMapGrid,
  mapRangeChanges,
  IMapPoints,
  offlineMapFigure,
  tileMapFigure
} from '../src/plot/mapfigure';
import { gridQuery } from '../src/plot/grid';
import { dataset, signal, survey, THEME } from './plot-fixtures';

/** An inversion's model: density contrast over latitude x longitude, no 1-D data. */
const model = (id: number, latUnits = 'degrees_north') =>
  dataset(
    id,
    [
      {
        name: 'latitude',
        units: latUnits,
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
    { name: 'model.nc', dims: { latitude: 2, longitude: 3 } }
  );

/** A 2-D variable on axes that are not latitude/longitude: plottable, not mappable. */
const spectrogram = (id: number) =>
  dataset(id, [
    { name: 'time', units: 's', dims: ['time'] },
    { name: 'frequency', units: 'Hz', dims: ['frequency'] },
    { name: 'power', units: 'dB', dims: ['time', 'frequency'] }
  ]);

const grid: IMapGrid = {
  lon: [8.0, 8.1, 8.2],
  lat: [47.0, 47.1],
  z: [
    [-20, 0, null],
    [5, 10, 30]
  ],
  name: 'density_contrast',
  unit: 'kg/m^3',
  title: 'Density contrast [kg/m^3]'
};

const points: IMapPoints = {
  lon: [8.05, 8.15],
  lat: [47.02, 47.08],
  values: [0.3, -0.2],
  name: 'gravity_anomaly',
  unit: 'mGal',
  title: 'Vertical gravity anomaly [mGal]'
};

const base: IBaseMap = {
  land: [
    [
      [0, 40],
      [20, 40],
      [20, 55],
      [0, 40]
    ]
  ],
  holes: [],
  borders: []
};

describe('gridded lat/lon datasets on the map', () => {
  it('recognises a variable over latitude x longitude as mappable, found by units or by name', () => {
    expect(geoVariables(model(7))).toBeNull();
    expect(
      geoGrids(model(7)).map(g => [
        g.variable.name,
        g.latitude.name,
        g.longitude.name
      ])
    ).toEqual([['density_contrast', 'latitude', 'longitude']]);
    expect(mapLayersOf(model(7))?.kind).toBe('grid');
    expect(mapLayersOf(survey(3))?.kind).toBe('points');
    expect(geoGrids(model(8, ''))).toHaveLength(1);
    expect(
      mappableDatasets([survey(3), model(7), spectrogram(9), signal(5)]).map(
        d => d.id
      )
    ).toEqual([7, 3]);
  });

  it('does not map a grid on other axes, nor one whose dimensions run longitude x latitude', () => {
    expect(geoGrids(spectrogram(9))).toEqual([]);
    const transposed = dataset(10, [
      { name: 'latitude', units: 'degrees_north', dims: ['latitude'] },
      { name: 'longitude', units: 'degrees_east', dims: ['longitude'] },
      { name: 'rho', units: 'kg/m^3', dims: ['longitude', 'latitude'] }
    ]);
    expect(geoGrids(transposed)).toEqual([]);
  });

  it('places cell edges half-way between centres', () => {
    expect(cellEdges([8.0, 8.1, 8.2]).map(v => +v.toFixed(3))).toEqual([
      7.95, 8.05, 8.15, 8.25
    ]);
    expect(cellEdges([3])).toEqual([2.5, 3.5]);
    expect(gridExtent(grid).lon.map(v => +v!.toFixed(3))).toEqual([7.95, 8.25]);
    expect(gridExtent(grid).lat.map(v => +v!.toFixed(3))).toEqual([
      46.95, 47.15
    ]);
  });

  it('draws the grid offline as a heatmap above the base map, its unit on the colour bar, diverging around zero', () => {
    const view = {
      lon: [7.9, 8.3] as [number, number],
      lat: [46.9, 47.2] as [number, number]
    };
    const figure = offlineMapFigure(null, base, THEME, view, 'r', grid);
    const types = figure.data.map(t => t.type);
    const heatmap = figure.data.find(t => t.type === 'heatmap')!;
    expect(types.indexOf('heatmap')).toBe(types.length - 1);
    expect(types.slice(0, -1).every(t => t === 'scatter')).toBe(true);
    expect(heatmap.z).toEqual(grid.z);
    expect(heatmap.x).toEqual(grid.lon);
    expect(heatmap.y).toEqual(grid.lat);
    expect((heatmap.colorbar as any).title.text).toBe(
      'Density contrast [kg/m^3]'
    );
    expect(heatmap).toMatchObject({ colorscale: 'RdBu', cmid: 0 });
    expect(heatmap.hovertemplate).toContain('kg/m^3');
    expect((figure.layout.xaxis as any).range).toEqual(view.lon);
  });

  it('uses the points’ sequential scale for a grid of one sign', () => {
    const positive = { ...grid, z: [[1, 2, 3]], lat: [47] };
    expect(gridTrace(positive, THEME, 'heatmap')).toMatchObject({
      colorscale: 'Viridis'
    });
    expect(gridTrace(positive, THEME, 'heatmap')).not.toHaveProperty('cmid');
  });

  it('draws points above the grid, their colour bar beside the grid’s', () => {
    const view = {
      lon: [7.9, 8.3] as [number, number],
      lat: [46.9, 47.2] as [number, number]
    };
    const figure = offlineMapFigure(points, base, THEME, view, 'r', grid);
    const heatmapAt = figure.data.findIndex(t => t.type === 'heatmap');
    const pointsAt = figure.data.findIndex(t => t.name === 'gravity_anomaly');
    expect(heatmapAt).toBeGreaterThan(0);
    expect(pointsAt).toBeGreaterThan(heatmapAt);
    const colorbars = [
      figure.data[heatmapAt].colorbar,
      (figure.data[pointsAt].marker as any).colorbar
    ] as any[];
    expect(colorbars.map(c => c.title.text)).toEqual([
      'Density contrast [kg/m^3]',
      'Vertical gravity anomaly [mGal]'
    ]);
    expect(colorbars[1].x).toBeGreaterThan(1.05);
  });

  it('draws the grid on tiles as one square per valued cell below the points', () => {
    const view = {
      lon: [7.9, 8.3] as [number, number],
      lat: [46.9, 47.2] as [number, number]
    };
    const tiles = { url: 'https://t/{z}/{x}/{y}.png', attribution: 'a' };
    const figure = tileMapFigure(
      points,
      tiles,
      THEME,
      view,
      { width: 600, height: 400 },
      'r',
      grid
    );
    expect(figure.data.map(t => t.type)).toEqual([
      'choroplethmap',
      'scattermap'
    ]);
    const layer = figure.data[0] as any;
    expect(layer.z).toEqual([-20, 0, 5, 10, 30]);
    expect(layer.locations).toEqual(['0,0', '0,1', '1,0', '1,1', '1,2']);
    expect(layer.geojson.features).toHaveLength(5);
    const ring = layer.geojson.features[0].geometry.coordinates[0].map(
      (p: number[]) => p.map(v => +v.toFixed(3))
    );
    expect(ring).toEqual([
      [7.95, 46.95],
      [8.05, 46.95],
      [8.05, 47.05],
      [7.95, 47.05],
      [7.95, 46.95]
    ]);
    expect(layer.colorbar.title.text).toBe('Density contrast [kg/m^3]');
  });
});

describe('the raster above the filled land', () => {
  it('puts the grid and points on axes overlaying the base map’s, so land does not cover the raster', () => {
    const view = {
      lon: [7.9, 8.3] as [number, number],
      lat: [46.9, 47.2] as [number, number]
    };
    const figure = offlineMapFigure(points, base, THEME, view, 'r', grid);
    const land = figure.data.find(t => t.name === 'land')!;
    expect(land.xaxis).toBeUndefined();
    for (const trace of figure.data.filter(
      t => t.type === 'heatmap' || t.name === 'gravity_anomaly'
    )) {
      expect([trace.xaxis, trace.yaxis]).toEqual(['x2', 'y2']);
    }
    expect(figure.layout.xaxis2).toMatchObject({
      overlaying: 'x',
      matches: 'x'
    });
    expect(figure.layout.yaxis2).toMatchObject({
      overlaying: 'y',
      matches: 'y'
    });
    // Points alone stay on the base map's axes, as before.
    expect(
      offlineMapFigure(points, base, THEME, view, 'r').layout.xaxis2
    ).toBeUndefined();
  });
});

describe('zooming the raster on the offline map', () => {
  const size = { width: 640, height: 480 };
  const query = (event: Record<string, unknown>) => {
    const ranges = mapRangeChanges(event);
    return gridQuery(
      { variable: 'density_contrast' },
      size,
      ranges.x ?? null,
      ranges.y ?? null
    );
  };

  it('asks for the visible longitude/latitude range at one cell per pixel, from the raster’s overlaid axes', () => {
    const view = {
      lon: [7.9, 8.3] as [number, number],
      lat: [46.9, 47.2] as [number, number]
    };
    const layout = offlineMapFigure(
      points,
      base,
      THEME,
      view,
      'r',
      grid
    ).layout;
    expect(
      Object.keys(layout)
        .filter(k => /^[xy]axis\d*$/.test(k))
        .sort()
    ).toEqual(['xaxis', 'xaxis2', 'yaxis', 'yaxis2']);
    // A drag zoom names both the base map's axes and the matching overlaid ones.
    const zoom = {
      'xaxis.range[0]': 8.0,
      'xaxis.range[1]': 8.2,
      'yaxis.range[0]': 47.0,
      'yaxis.range[1]': 47.1,
      'xaxis2.range[0]': 8.01,
      'xaxis2.range[1]': 8.19,
      'yaxis2.range[0]': 47.01,
      'yaxis2.range[1]': 47.09
    };
    expect(query(zoom)).toEqual({
      z: 'density_contrast',
      width: 640,
      height: 480,
      x0: 8.01,
      x1: 8.19,
      y0: 47.01,
      y1: 47.09
    });
    // Only the base map's axes (Plotly.relayout on them) or a reversed pair.
    expect(
      query({ 'xaxis.range': [8.2, 8.0], 'yaxis.range': [47.0, 47.1] })
    ).toMatchObject({
      x0: 8.0,
      x1: 8.2,
      y0: 47.0,
      y1: 47.1
    });
  });

  it('asks for the whole grid on autorange, and ignores events without ranges', () => {
    const auto = mapRangeChanges({
      'xaxis.autorange': true,
      'yaxis.autorange': true
    });
    expect(auto).toEqual({ x: null, y: null });
    expect(
      query({ 'xaxis2.autorange': true, 'yaxis2.autorange': true })
    ).toEqual({
      z: 'density_contrast',
      width: 640,
      height: 480
    });
    expect(mapRangeChanges({ dragmode: 'pan' })).toEqual({});
    expect(mapRangeChanges({ 'yaxis.range[0]': 47 })).toEqual({});
    expect(
      mapRangeChanges({ 'xaxis.range[0]': 8, 'xaxis.range[1]': 9 })
    ).toEqual({ x: [8, 9] });
  });
});
