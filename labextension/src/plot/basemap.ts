/**
 * The offline base map: Natural Earth 1:110m land and country borders from the
 * `world-atlas` package, bundled with the extension, drawn as ordinary filled
 * scatter traces under the data in a lon/lat plot. Plotly's geo traces would
 * fetch their base map from a CDN; this needs no network at all.
 *
 * world-atlas rings are spherical: a few cross the antimeridian (Fiji,
 * Chukotka) and Antarctica encircles the pole. On a flat lon/lat plot such a
 * ring is unwrapped to continuous longitudes, closed along the pole if it
 * circles it, and drawn a second time 360° over so both map edges show it.
 */
import type { GeometryObject, Topology } from 'topojson-specification';
import { feature, mesh } from 'topojson-client';
import { Trace } from './plotly';
import { ITheme } from './theme';

export type Position = [number, number];
export type Ring = Position[];

export interface IBaseMap {
  /** Outer rings of land polygons. */
  land: Ring[];
  /** Inner rings (lakes, inland seas), drawn in the water colour over the land. */
  holes: Ring[];
  /** Country borders between two countries (no coastlines). */
  borders: Position[][];
}

/** A ring with continuous longitudes (no ±360° jumps), closed along the pole if it encircles one. */
export function unwrapRing(ring: readonly Position[]): Ring {
  if (ring.length === 0) {
    return [];
  }
  const out: Ring = [[ring[0][0], ring[0][1]]];
  let offset = 0;
  for (let i = 1; i < ring.length; i++) {
    const step = ring[i][0] - ring[i - 1][0];
    if (step > 180) {
      offset -= 360;
    } else if (step < -180) {
      offset += 360;
    }
    out.push([ring[i][0] + offset, ring[i][1]]);
  }
  const turn = out[out.length - 1][0] - out[0][0];
  if (Math.abs(turn) > 180) {
    const meanLat = out.reduce((sum, p) => sum + p[1], 0) / out.length;
    const pole = meanLat < 0 ? -90 : 90;
    out.push(
      [out[out.length - 1][0], pole],
      [out[0][0], pole],
      [out[0][0], out[0][1]]
    );
  }
  return out;
}

/** A ring as drawn: unwrapped, plus a copy 360° over when it sticks out past ±180°. */
export function drawnRings(ring: readonly Position[]): Ring[] {
  const unwrapped = unwrapRing(ring);
  const lons = unwrapped.map(p => p[0]);
  const rings = [unwrapped];
  if (Math.min(...lons) < -180) {
    rings.push(unwrapped.map(([lon, lat]) => [lon + 360, lat]));
  }
  if (Math.max(...lons) > 180) {
    rings.push(unwrapped.map(([lon, lat]) => [lon - 360, lat]));
  }
  return rings;
}

/** A line cut wherever it jumps across the antimeridian. */
export function splitAtAntimeridian(line: readonly Position[]): Position[][] {
  const parts: Position[][] = [];
  let current: Position[] = [];
  line.forEach((point, i) => {
    if (i > 0 && Math.abs(point[0] - line[i - 1][0]) > 180) {
      parts.push(current);
      current = [];
    }
    current.push([point[0], point[1]]);
  });
  parts.push(current);
  return parts.filter(part => part.length > 1);
}

/** Land rings, holes and borders of a world-atlas topology (objects `land` and `countries`). */
/** Whether `json` is a TopoJSON topology (checked, not assumed, of the bundled JSON). */
export function isTopology(json: unknown): json is Topology {
  return (
    typeof json === 'object' &&
    json !== null &&
    'type' in json &&
    json.type === 'Topology' &&
    'objects' in json &&
    'arcs' in json
  );
}

export function baseMapOf(topology: Topology): IBaseMap {
  const map: IBaseMap = { land: [], holes: [], borders: [] };
  const landObject = topology.objects.land as GeometryObject | undefined;
  if (landObject) {
    const land = feature(topology, landObject);
    const geometries =
      'features' in land ? land.features.map(f => f.geometry) : [land.geometry];
    for (const geometry of geometries) {
      const polygons =
        geometry?.type === 'Polygon'
          ? [geometry.coordinates]
          : geometry?.type === 'MultiPolygon'
            ? geometry.coordinates
            : [];
      for (const [outer, ...inner] of polygons) {
        map.land.push(...drawnRings(outer as Position[]));
        for (const hole of inner) {
          map.holes.push(...drawnRings(hole as Position[]));
        }
      }
    }
  }
  const countries = topology.objects.countries as GeometryObject | undefined;
  if (countries) {
    const borders = mesh(topology, countries, (a, b) => a !== b);
    for (const line of borders.coordinates) {
      map.borders.push(...splitAtAntimeridian(line as Position[]));
    }
  }
  return map;
}

/** Rings or lines as one trace's x/y, separated by nulls so each is its own shape. */
export function joinWithGaps(parts: readonly Position[][]): {
  x: (number | null)[];
  y: (number | null)[];
} {
  const x: (number | null)[] = [];
  const y: (number | null)[] = [];
  parts.forEach((part, i) => {
    if (i > 0) {
      x.push(null);
      y.push(null);
    }
    for (const [lon, lat] of part) {
      x.push(lon);
      y.push(lat);
    }
  });
  return { x, y };
}

/** Land, lakes and borders as scatter traces in the theme's colours, not hoverable. */
export function baseMapTraces(map: IBaseMap, theme: ITheme): Trace[] {
  const common = {
    type: 'scatter',
    mode: 'lines',
    hoverinfo: 'skip',
    showlegend: false
  };
  const area = (
    name: string,
    rings: Position[][],
    fillcolor: string
  ): Trace => ({
    ...common,
    ...joinWithGaps(rings),
    name,
    fill: 'toself',
    fillcolor,
    line: { color: theme.border, width: 0.6 }
  });
  return [
    area('land', map.land, theme.land),
    area('lakes', map.holes, theme.water),
    {
      ...common,
      ...joinWithGaps(map.borders),
      name: 'borders',
      line: { color: theme.border, width: 0.5, dash: 'dot' }
    }
  ];
}

let loading: Promise<IBaseMap> | null = null;

/** The bundled base map, converted once; its JSON is a chunk of its own, loaded on first use. */
export function loadBaseMap(): Promise<IBaseMap> {
  if (!loading) {
    loading = import('world-atlas/countries-110m.json').then(module => {
      const json: unknown = module.default ?? module;
      if (!isTopology(json)) {
        throw new Error('the bundled base map is no TopoJSON topology');
      }
      return baseMapOf(json);
    });
    loading.catch(() => {
      loading = null;
    });
  }
  return loading;
}
