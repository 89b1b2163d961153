/**
 * The map view's figure: points at their latitude/longitude coloured by a
 * variable, with a colour bar that names its unit. Offline (the default) it is
 * an ordinary lon/lat plot over the bundled base map, its y axis scaled so
 * that shapes are true near the data (an equirectangular projection whose
 * standard parallel is the data's mid latitude). With a tile URL configured it
 * is a Plotly `scattermap` (MapLibre) over those XYZ raster tiles.
 *
 * A variable gridded over latitude × longitude (an inversion's model) is a
 * raster layer between the base map and any points: a `heatmap` offline, and
 * on tiles a `choroplethmap` of one square per cell (MapLibre has no heatmap
 * of given values; `densitymap` would smear them into a density).
 */
import { IBaseMap, baseMapTraces } from './basemap';
import { IFigure, Trace } from './plotly';
import { ITheme } from './theme';
import { rangeChanges, XRange } from './zoom';

export interface IMapPoints {
  lon: (number | null)[];
  lat: (number | null)[];
  /** The colouring variable's values; null colours every point alike. */
  values: (number | null)[] | null;
  /** Hover name of the values, e.g. "gravity_anomaly". */
  name: string;
  unit: string;
  /** Colour bar title, e.g. "Vertical gravity anomaly [mGal]". */
  title: string;
}

/** A variable on a latitude × longitude grid: rows along `lat`, columns along `lon`. */
export interface IMapGrid {
  lon: (number | null)[];
  lat: (number | null)[];
  z: (number | null)[][];
  /** Hover name of the values, e.g. "density_contrast". */
  name: string;
  unit: string;
  /** Colour bar title, e.g. "Density contrast [kg/m^3]". */
  title: string;
}

export interface IMapView {
  lon: [number, number];
  lat: [number, number];
}

/** The data's extent plus `margin` of it on every side (at least `minSpan` degrees wide), within the globe. */
export function fitView(
  lon: readonly (number | null)[],
  lat: readonly (number | null)[],
  margin = 0.1,
  minSpan = 0.02
): IMapView {
  const located = lon
    .map((x, i) => [x, lat[i]] as const)
    .filter(
      (p): p is readonly [number, number] =>
        Number.isFinite(p[0] ?? NaN) && Number.isFinite(p[1] ?? NaN)
    );
  const lons = located.map(p => p[0]);
  const lats = located.map(p => p[1]);
  if (located.length === 0) {
    return { lon: [-180, 180], lat: [-90, 90] };
  }
  const widen = (
    min: number,
    max: number,
    low: number,
    high: number
  ): [number, number] => {
    const span = Math.max(max - min, minSpan);
    const middle = (min + max) / 2;
    const half = (span / 2) * (1 + 2 * margin);
    return [Math.max(low, middle - half), Math.min(high, middle + half)];
  };
  return {
    lon: widen(Math.min(...lons), Math.max(...lons), -180, 180),
    lat: widen(Math.min(...lats), Math.max(...lats), -90, 90)
  };
}

/** Pixels per degree of latitude over pixels per degree of longitude: true shapes at `latitude`. */
export function aspectRatio(latitude: number): number {
  return 1 / Math.max(0.1, Math.cos((latitude * Math.PI) / 180));
}

/** The MapLibre zoom at which `view` fits a `width` x `height` pixel map (512-pixel world at zoom 0). */
export function zoomFor(view: IMapView, width: number, height: number): number {
  const mercator = (lat: number) =>
    Math.log(
      Math.tan(Math.PI / 4 + (Math.max(-85, Math.min(85, lat)) * Math.PI) / 360)
    );
  const lonSpan = Math.max(1e-6, view.lon[1] - view.lon[0]);
  const ySpan = Math.max(1e-9, mercator(view.lat[1]) - mercator(view.lat[0]));
  const byWidth = Math.log2((Math.max(width, 1) * 360) / (512 * lonSpan));
  const byHeight = Math.log2(
    (Math.max(height, 1) * 2 * Math.PI) / (512 * ySpan)
  );
  return Math.max(0, Math.min(18, Math.min(byWidth, byHeight)));
}

/** A MapLibre style with one raster source: the configured XYZ tile URL and its attribution. */
export function tileStyle(
  url: string,
  attribution: string
): Record<string, unknown> {
  return {
    version: 8,
    sources: {
      tiles: {
        type: 'raster',
        tiles: [url],
        tileSize: 256,
        attribution,
        maxzoom: 19
      }
    },
    layers: [{ id: 'tiles', type: 'raster', source: 'tiles' }]
  };
}

/** Colours for the values: diverging around zero for anomalies that change sign, else sequential. */
export function colorScale(values: readonly (number | null)[]): {
  colorscale: string;
  reversescale: boolean;
  cmid?: number;
} {
  const finite = values.filter(
    (v): v is number => v !== null && Number.isFinite(v)
  );
  if (finite.length > 0 && Math.min(...finite) < 0 && Math.max(...finite) > 0) {
    return { colorscale: 'RdBu', reversescale: false, cmid: 0 };
  }
  return { colorscale: 'Viridis', reversescale: false };
}

/** Split points into those with a value (coloured) and those without (drawn grey). */
function splitPoints(points: IMapPoints): {
  valued: number[];
  missing: number[];
} {
  const valued: number[] = [];
  const missing: number[] = [];
  points.lon.forEach((lon, i) => {
    const lat = points.lat[i];
    if (lon === null || lat === null) {
      return;
    }
    const value = points.values?.[i];
    (points.values && (value === null || value === undefined)
      ? missing
      : valued
    ).push(i);
  });
  return { valued, missing };
}

/** The colour bar of a map layer, alike for points and grids: its title names the unit. */
function colorBarStyle(title: string, theme: ITheme): Record<string, unknown> {
  return {
    title: { text: title, side: 'right', font: { color: theme.font } },
    tickfont: { color: theme.font },
    outlinecolor: theme.border,
    bgcolor: 'rgba(0,0,0,0)'
  };
}

/** Where a second colour bar (the points', beside a grid's) sits. */
const SECOND_COLORBAR_X = 1.16;

/** Every value of a grid, for its colour scale. */
function gridValues(grid: IMapGrid): (number | null)[] {
  return grid.z.flat();
}

/** Cell edges along an axis of cell centres: half-way between neighbours, half a step beyond the ends. */
export function cellEdges(centres: readonly (number | null)[]): number[] {
  const c = centres.map(v => v ?? NaN);
  if (c.length === 0) {
    return [];
  }
  if (c.length === 1) {
    return [c[0] - 0.5, c[0] + 0.5];
  }
  const edges = [c[0] - (c[1] - c[0]) / 2];
  for (let i = 0; i < c.length - 1; i++) {
    edges.push((c[i] + c[i + 1]) / 2);
  }
  edges.push(c[c.length - 1] + (c[c.length - 1] - c[c.length - 2]) / 2);
  return edges;
}

/** The raster layer of a grid: a heatmap on the offline map, a choropleth of square cells on tiles. */
export function gridTrace(
  grid: IMapGrid,
  theme: ITheme,
  type: 'heatmap' | 'choroplethmap'
): Trace {
  const unit = grid.unit ? ` ${grid.unit}` : '';
  const common = {
    name: grid.name,
    ...colorScale(gridValues(grid)),
    colorbar: colorBarStyle(grid.title, theme),
    showlegend: false
  };
  if (type === 'heatmap') {
    return {
      type,
      ...common,
      x: grid.lon,
      y: grid.lat,
      z: grid.z,
      opacity: 0.85,
      connectgaps: false,
      hoverongaps: false,
      hovertemplate: `lat %{y:.5f}°, lon %{x:.5f}°<br>${grid.name} %{z:.5g}${unit}<extra></extra>`
    };
  }
  const lonEdges = cellEdges(grid.lon);
  const latEdges = cellEdges(grid.lat);
  const features: Record<string, unknown>[] = [];
  const locations: string[] = [];
  const z: number[] = [];
  const text: string[] = [];
  grid.z.forEach((row, r) =>
    row.forEach((value, c) => {
      if (value === null || !Number.isFinite(value)) {
        return;
      }
      const [w, e, s, n] = [
        lonEdges[c],
        lonEdges[c + 1],
        latEdges[r],
        latEdges[r + 1]
      ];
      if (![w, e, s, n].every(Number.isFinite)) {
        return;
      }
      const id = `${r},${c}`;
      features.push({
        type: 'Feature',
        id,
        properties: {},
        geometry: {
          type: 'Polygon',
          coordinates: [
            [
              [w, s],
              [e, s],
              [e, n],
              [w, n],
              [w, s]
            ]
          ]
        }
      });
      locations.push(id);
      z.push(value);
      text.push(
        `lat ${grid.lat[r]?.toFixed(5)}°, lon ${grid.lon[c]?.toFixed(5)}°`
      );
    })
  );
  return {
    type,
    ...common,
    geojson: { type: 'FeatureCollection', features },
    featureidkey: 'id',
    locations,
    z,
    text,
    marker: { opacity: 0.75, line: { width: 0 } },
    hovertemplate: `%{text}<br>${grid.name} %{z:.5g}${unit}<extra></extra>`
  };
}

/** The extent of a grid's cell centres, for fitting the view. */
export function gridExtent(grid: Pick<IMapGrid, 'lon' | 'lat'>): {
  lon: (number | null)[];
  lat: (number | null)[];
} {
  const lonEdges = cellEdges(grid.lon);
  const latEdges = cellEdges(grid.lat);
  return {
    lon: [lonEdges[0] ?? null, lonEdges[lonEdges.length - 1] ?? null],
    lat: [latEdges[0] ?? null, latEdges[latEdges.length - 1] ?? null]
  };
}

/** The data layers in drawing order: the grid (if any) below the points (if any). */
function dataTraces(
  points: IMapPoints | null,
  grid: IMapGrid | null,
  theme: ITheme,
  kind: 'offline' | 'tiles'
): Trace[] {
  const traces: Trace[] = [];
  if (grid) {
    traces.push(
      gridTrace(grid, theme, kind === 'offline' ? 'heatmap' : 'choroplethmap')
    );
  }
  if (points) {
    const second = grid && points.values ? SECOND_COLORBAR_X : undefined;
    traces.push(
      ...pointTraces(
        points,
        theme,
        kind === 'offline' ? 'scatter' : 'scattermap',
        second
      )
    );
  }
  return traces;
}

function markerSize(count: number): number {
  return count <= 200 ? 10 : count <= 2000 ? 7 : 4;
}

/** The point traces, for either a cartesian ('scatter') or a tile ('scattermap') map. */
function pointTraces(
  points: IMapPoints,
  theme: ITheme,
  type: 'scatter' | 'scattermap',
  colorbarX?: number
): Trace[] {
  const { valued, missing } = splitPoints(points);
  const pick = <T>(values: readonly T[], index: number[]) =>
    index.map(i => values[i]);
  const position = (index: number[]) =>
    type === 'scatter'
      ? { x: pick(points.lon, index), y: pick(points.lat, index) }
      : { lon: pick(points.lon, index), lat: pick(points.lat, index) };
  const where =
    type === 'scatter'
      ? 'lat %{y:.5f}°, lon %{x:.5f}°'
      : 'lat %{lat:.5f}°, lon %{lon:.5f}°';
  const size = markerSize(valued.length + missing.length);
  const unit = points.unit ? ` ${points.unit}` : '';
  const traces: Trace[] = [];
  if (points.values) {
    const values = pick(points.values, valued);
    traces.push({
      type,
      mode: 'markers',
      name: points.name,
      ...position(valued),
      marker: {
        size,
        color: values,
        ...colorScale(values),
        ...(type === 'scatter'
          ? { line: { color: theme.border, width: 0.5 } }
          : {}),
        colorbar: {
          ...colorBarStyle(points.title, theme),
          ...(colorbarX !== undefined ? { x: colorbarX } : {})
        }
      },
      hovertemplate: `${where}<br>${points.name} %{marker.color:.5g}${unit}<extra></extra>`,
      showlegend: false
    });
  } else {
    traces.push({
      type,
      mode: 'markers',
      name: 'points',
      ...position(valued),
      marker: { size, color: theme.font },
      hovertemplate: `${where}<extra></extra>`,
      showlegend: false
    });
  }
  if (missing.length > 0) {
    traces.push({
      type,
      mode: 'markers',
      name: `no ${points.name}`,
      ...position(missing),
      marker: {
        size,
        color: theme.fontMuted,
        ...(type === 'scatter' ? { symbol: 'x' } : {})
      },
      hovertemplate: `${where}<br>no value<extra></extra>`,
      showlegend: true
    });
  }
  return traces;
}

function baseLayout(
  theme: ITheme,
  uirevision: string
): Record<string, unknown> {
  return {
    paper_bgcolor: theme.paper,
    plot_bgcolor: theme.water,
    font: { color: theme.font, family: theme.fontFamily, size: theme.fontSize },
    margin: { l: 56, r: 16, t: 16, b: 48 },
    hovermode: 'closest',
    legend: {
      orientation: 'h',
      x: 0,
      y: 1,
      yanchor: 'bottom',
      bgcolor: 'rgba(0,0,0,0)'
    },
    modebar: {
      bgcolor: 'rgba(0,0,0,0)',
      color: theme.fontMuted,
      activecolor: theme.font
    },
    uirevision
  };
}

/** Points over the bundled base map, fitted to `view`, in true shape at its mid latitude. */
export function offlineMapFigure(
  points: IMapPoints | null,
  base: IBaseMap,
  theme: ITheme,
  view: IMapView,
  uirevision: string,
  grid: IMapGrid | null = null
): IFigure {
  const axis = {
    color: theme.font,
    gridcolor: theme.grid,
    linecolor: theme.border,
    zeroline: false,
    showline: true,
    mirror: true,
    ticksuffix: '°',
    automargin: true
  };
  return {
    data: [
      ...baseMapTraces(base, theme),
      ...onTop(dataTraces(points, grid, theme, 'offline'), !!grid)
    ],
    layout: {
      ...baseLayout(theme, uirevision),
      // Zooming out stops at the globe (and the copies of rings wrapped across the antimeridian).
      xaxis: {
        ...axis,
        range: view.lon,
        minallowed: -360,
        maxallowed: 360,
        title: { text: 'Longitude [degrees_east]' }
      },
      yaxis: {
        ...axis,
        range: view.lat,
        minallowed: -90,
        maxallowed: 90,
        title: { text: 'Latitude [degrees_north]' },
        scaleanchor: 'x',
        scaleratio: aspectRatio((view.lat[0] + view.lat[1]) / 2)
      },
      ...(grid ? OVERLAY_AXES : {})
    }
  };
}

/**
 * Plotly draws a subplot's heatmaps below all its scatter traces, so a raster
 * on the base map's own axes would vanish under the filled land: it goes, with
 * the points, on invisible axes overlaying (and matching) the base map's,
 * whose subplot is drawn after it. Within it the points stay above the raster.
 */
const OVERLAY_AXES = {
  xaxis2: { overlaying: 'x', matches: 'x', visible: false },
  yaxis2: { overlaying: 'y', matches: 'y', visible: false }
};

function onTop(traces: Trace[], overlay: boolean): Trace[] {
  return overlay
    ? traces.map(t => ({ ...t, xaxis: 'x2', yaxis: 'y2' }))
    : traces;
}

/** Points on a MapLibre map of the configured raster tiles, centred and zoomed to `view`. */
export function tileMapFigure(
  points: IMapPoints | null,
  tiles: { url: string; attribution: string },
  theme: ITheme,
  view: IMapView,
  size: { width: number; height: number },
  uirevision: string,
  grid: IMapGrid | null = null
): IFigure {
  return {
    data: dataTraces(points, grid, theme, 'tiles'),
    layout: {
      ...baseLayout(theme, uirevision),
      margin: { l: 0, r: 0, t: 0, b: 0 },
      map: {
        style: tileStyle(tiles.url, tiles.attribution),
        center: {
          lon: (view.lon[0] + view.lon[1]) / 2,
          lat: (view.lat[0] + view.lat[1]) / 2
        },
        zoom: zoomFor(view, size.width, size.height)
      }
    }
  };
}

/** The longitude (x) and latitude (y) ranges a relayout set: null for autorange, absent when not touched. */
export type MapRanges = { x?: XRange; y?: XRange };

/**
 * The offline map's zoom or pan as longitude/latitude ranges. The raster lives
 * on the overlaid axes (xaxis2/yaxis2) that match the base map's (xaxis/yaxis),
 * so a relayout may name either: the overlaid axis wins when both are there.
 */
export function mapRangeChanges(event: Record<string, unknown>): MapRanges {
  const out: MapRanges = {};
  for (const direction of ['x', 'y'] as const) {
    const changes = rangeChanges(event, direction);
    for (const axis of [`${direction}axis2`, `${direction}axis`]) {
      if (changes.has(axis)) {
        out[direction] = changes.get(axis) ?? null;
        break;
      }
    }
  }
  return out;
}
