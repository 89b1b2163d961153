import { describe, expect, it } from 'vitest';
import countries from 'world-atlas/countries-110m.json';
import {
  baseMapOf,
  baseMapTraces,
  drawnRings,
  isTopology,
  joinWithGaps,
  splitAtAntimeridian,
  unwrapRing
} from '../src/plot/basemap';
import { THEME } from './plot-fixtures';

/** Segments that would streak across the map: over 180° of longitude, except along a pole. */
const jumps = (ring: [number, number][]) =>
  ring.filter(
    (p, i) =>
      i > 0 &&
      Math.abs(p[0] - ring[i - 1][0]) > 180 &&
      !(Math.abs(p[1]) === 90 && p[1] === ring[i - 1][1])
  ).length;

describe('offline base map', () => {
  it('draws a ring crossing the antimeridian without a streak across the map, on both edges', () => {
    const fiji: [number, number][] = [
      [178, -17],
      [-179, -17],
      [-179, -16],
      [178, -16],
      [178, -17]
    ];
    const rings = drawnRings(fiji);
    expect(rings).toHaveLength(2);
    expect(rings.every(r => jumps(r) === 0)).toBe(true);
    expect(rings[0].map(p => p[0])).toEqual([178, 181, 181, 178, 178]);
    expect(rings[1].map(p => p[0])).toEqual([-182, -179, -179, -182, -182]);
  });

  it('closes a ring that circles the pole along the pole', () => {
    const antarctica: [number, number][] = [
      [-180, -80],
      [-60, -75],
      [60, -70],
      [180, -80]
    ];
    const ring = unwrapRing([...antarctica, [-180, -80]]);
    expect(jumps(ring)).toBe(0);
    expect(ring.slice(-3)).toEqual([
      [180, -90],
      [-180, -90],
      [-180, -80]
    ]);
  });

  it('cuts border lines where they jump across the antimeridian', () => {
    expect(
      splitAtAntimeridian([
        [170, 60],
        [179, 61],
        [-179, 61],
        [-170, 62]
      ])
    ).toEqual([
      [
        [170, 60],
        [179, 61]
      ],
      [
        [-179, 61],
        [-170, 62]
      ]
    ]);
  });

  it('separates shapes by gaps so each is filled on its own', () => {
    expect(
      joinWithGaps([
        [
          [0, 0],
          [1, 1]
        ],
        [[2, 2]]
      ])
    ).toEqual({ x: [0, 1, null, 2], y: [0, 1, null, 2] });
  });

  it('turns the bundled Natural Earth topology into land, lakes and borders without network', () => {
    const topology: unknown = countries;
    if (!isTopology(topology)) {
      throw new Error('world-atlas is no TopoJSON topology');
    }
    const map = baseMapOf(topology);
    expect(map.land.length).toBeGreaterThan(100);
    expect(map.borders.length).toBeGreaterThan(100);
    expect(map.land.every(r => jumps(r) === 0)).toBe(true);
    const lons = map.land.flat().map(p => p[0]);
    expect(Math.min(...lons)).toBeGreaterThanOrEqual(-540);
    const switzerland = map.land.some(r =>
      r.some(([lon, lat]) => Math.abs(lon - 8) < 10 && Math.abs(lat - 47) < 10)
    );
    expect(switzerland).toBe(true);
    const traces = baseMapTraces(map, THEME);
    expect(traces.map(t => t.name)).toEqual(['land', 'lakes', 'borders']);
    expect(traces[0]).toMatchObject({
      fill: 'toself',
      fillcolor: THEME.land,
      hoverinfo: 'skip'
    });
  });
});
