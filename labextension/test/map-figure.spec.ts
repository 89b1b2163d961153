import { describe, expect, it } from 'vitest';
import { IBaseMap } from '../src/plot/basemap';
import {
  aspectRatio,
  colorScale,
  fitView,
  IMapPoints,
  offlineMapFigure,
  tileMapFigure,
  tileStyle,
  zoomFor
} from '../src/plot/mapfigure';
import { THEME } from './plot-fixtures';

const points: IMapPoints = {
  lon: [8.4, 8.5, 8.55, null],
  lat: [47.0, 47.05, 47.1, 47.2],
  values: [0.3, -0.2, null, 1],
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

describe('map view of the data', () => {
  it('fits the data with a margin on every side', () => {
    const view = fitView(points.lon, points.lat);
    expect(view.lon[0]).toBeCloseTo(8.4 - 0.015);
    expect(view.lon[1]).toBeCloseTo(8.55 + 0.015);
    expect(view.lat[0]).toBeCloseTo(47.0 - 0.01);
    expect(view.lat[1]).toBeCloseTo(47.1 + 0.01);
  });

  it('shows a single station with some surroundings, and the world without data', () => {
    const one = fitView([8], [47]);
    expect(one.lon[1] - one.lon[0]).toBeGreaterThan(0.01);
    expect(fitView([], [])).toEqual({ lon: [-180, 180], lat: [-90, 90] });
    expect(fitView([-179.99, 179.99], [-89.99, 89.99]).lat).toEqual([-90, 90]);
  });

  it('keeps shapes true near the data: a degree of latitude is longer than one of longitude away from the equator', () => {
    expect(aspectRatio(0)).toBeCloseTo(1);
    expect(aspectRatio(60)).toBeCloseTo(2);
    expect(aspectRatio(90)).toBeCloseTo(10);
  });

  it('zooms a tile map so the data fills it', () => {
    expect(zoomFor({ lon: [-180, 180], lat: [-85, 85] }, 512, 512)).toBeCloseTo(
      0,
      1
    );
    const rigi = zoomFor(
      { lon: [8.385, 8.565], lat: [46.99, 47.11] },
      800,
      600
    );
    expect(rigi).toBeGreaterThan(10);
    expect(rigi).toBeLessThan(13);
  });

  it('colours values that change sign on a scale centred on zero', () => {
    expect(colorScale([-1, 2])).toMatchObject({ colorscale: 'RdBu', cmid: 0 });
    expect(colorScale([1, 2, null])).toMatchObject({ colorscale: 'Viridis' });
  });
});

describe('offline map', () => {
  const figure = offlineMapFigure(
    points,
    base,
    THEME,
    fitView(points.lon, points.lat),
    'rev'
  );

  it('draws the points over the bundled base map in a plain lon/lat plot, fetching nothing', () => {
    expect(figure.data.map(t => t.type)).toEqual([
      'scatter',
      'scatter',
      'scatter',
      'scatter',
      'scatter'
    ]);
    expect(figure.data.map(t => t.name)).toEqual([
      'land',
      'lakes',
      'borders',
      'gravity_anomaly',
      'no gravity_anomaly'
    ]);
    expect(JSON.stringify(figure)).not.toMatch(/geo|https?:/);
  });

  it('colours points by the variable with a colour bar naming its unit', () => {
    const valued = figure.data[3] as {
      x: number[];
      y: number[];
      marker: { color: number[]; colorbar: { title: { text: string } } };
    };
    expect(valued.x).toEqual([8.4, 8.5]);
    expect(valued.y).toEqual([47.0, 47.05]);
    expect(valued.marker.color).toEqual([0.3, -0.2]);
    expect(valued.marker.colorbar.title.text).toBe(
      'Vertical gravity anomaly [mGal]'
    );
    expect(figure.data[4]).toMatchObject({ x: [8.55], y: [47.1] });
  });

  it('keeps an equal-aspect lon/lat frame fitted to the data', () => {
    expect(figure.layout.yaxis).toMatchObject({
      scaleanchor: 'x',
      minallowed: -90,
      maxallowed: 90
    });
    expect(
      (figure.layout.yaxis as { scaleratio: number }).scaleratio
    ).toBeCloseTo(aspectRatio(47.05));
    expect((figure.layout.xaxis as { range: number[] }).range[0]).toBeCloseTo(
      8.385
    );
    expect(figure.layout.plot_bgcolor).toBe(THEME.water);
  });

  it('draws every point alike when no variable colours them', () => {
    const plain = offlineMapFigure(
      { ...points, values: null },
      base,
      THEME,
      fitView(points.lon, points.lat),
      'r'
    );
    expect(plain.data).toHaveLength(4);
    expect((plain.data[3] as { x: number[] }).x).toEqual([8.4, 8.5, 8.55]);
  });
});

describe('tile map', () => {
  it('uses the configured XYZ tiles with their attribution', () => {
    expect(
      tileStyle('https://tiles.example/{z}/{x}/{y}.png', '© Example')
    ).toEqual({
      version: 8,
      sources: {
        tiles: {
          type: 'raster',
          tiles: ['https://tiles.example/{z}/{x}/{y}.png'],
          tileSize: 256,
          attribution: '© Example',
          maxzoom: 19
        }
      },
      layers: [{ id: 'tiles', type: 'raster', source: 'tiles' }]
    });
  });

  it('draws the points as a MapLibre scattermap centred on the data', () => {
    const figure = tileMapFigure(
      points,
      {
        url: 'https://tiles.example/{z}/{x}/{y}.png',
        attribution: '© Example'
      },
      THEME,
      fitView(points.lon, points.lat),
      { width: 800, height: 600 },
      'r'
    );
    expect(figure.data.map(t => t.type)).toEqual(['scattermap', 'scattermap']);
    expect(figure.data[0]).toMatchObject({
      lon: [8.4, 8.5],
      lat: [47.0, 47.05]
    });
    const map = figure.layout.map as {
      center: { lon: number; lat: number };
      zoom: number;
      style: unknown;
    };
    expect(map.center.lon).toBeCloseTo(8.475);
    expect(map.center.lat).toBeCloseTo(47.05);
    expect(map.zoom).toBeGreaterThan(10);
    expect(map.style).toEqual(
      tileStyle('https://tiles.example/{z}/{x}/{y}.png', '© Example')
    );
  });
});
