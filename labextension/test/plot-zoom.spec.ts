import { describe, expect, it } from 'vitest';
import {
  needsMorePoints,
  pointsFor,
  rangeChanges,
  statusText
} from '../src/plot/zoom';

describe('zoom events', () => {
  it('reads a box zoom or pan on an x axis as its new range', () => {
    expect(
      rangeChanges({
        'xaxis.range[0]': 10,
        'xaxis.range[1]': 20,
        'yaxis.range[0]': -1,
        'yaxis.range[1]': 1
      })
    ).toEqual(new Map([['xaxis', [10, 20]]]));
    expect(rangeChanges({ 'xaxis2.range': [5, 2] })).toEqual(
      new Map([['xaxis2', [2, 5]]])
    );
  });

  it('reads double-click and reset as going back to the whole range', () => {
    expect(
      rangeChanges({ 'xaxis.autorange': true, 'yaxis.autorange': true })
    ).toEqual(new Map([['xaxis', null]]));
  });

  it('ignores what does not move an x axis', () => {
    expect(rangeChanges({ autosize: true })).toEqual(new Map());
    expect(rangeChanges({ 'yaxis.range[0]': 0, 'yaxis.range[1]': 1 })).toEqual(
      new Map()
    );
    expect(rangeChanges({ 'xaxis.range[0]': 3 })).toEqual(new Map());
    expect(rangeChanges({ dragmode: 'pan' })).toEqual(new Map());
  });
});

describe('decimation', () => {
  it('asks for about one point per pixel of plot width, within the server limits', () => {
    expect(pointsFor(812.4)).toBe(812);
    expect(pointsFor(10)).toBe(200);
    expect(pointsFor(1e6)).toBe(100000);
  });

  it('fetches again only when the plot grew well past what it has', () => {
    expect(needsMorePoints(800, 820)).toBe(false);
    expect(needsMorePoints(800, 400)).toBe(false);
    expect(needsMorePoints(800, 1200)).toBe(true);
  });

  it('says how many points are shown of how many', () => {
    expect(
      statusText([
        { shown: 2000, inRange: 100000, total: 100000, decimated: true }
      ])
    ).toBe('decimated: 2000 of 100000 points');
    expect(
      statusText([{ shown: 500, inRange: 500, total: 500, decimated: false }])
    ).toBe('500 points');
    expect(
      statusText([
        { shown: 700, inRange: 700, total: 100000, decimated: false }
      ])
    ).toBe('700 points in range (100000 in all), full resolution');
    expect(
      statusText([
        { shown: 1000, inRange: 5000, total: 100000, decimated: true },
        { shown: 10, inRange: 10, total: 1000, decimated: false }
      ])
    ).toBe('decimated: 1010 of 5010 points in range (101000 in all)');
    expect(statusText([])).toBe('');
  });
});
