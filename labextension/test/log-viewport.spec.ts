import { describe, expect, it } from 'vitest';
import {
  MAX_SCROLL_HEIGHT,
  IMetrics,
  isAtEnd,
  maxScrollTop,
  scrollHeight,
  scrollTopFor,
  topRow,
  visibleRange
} from '../src/log/viewport';

const small: IMetrics = { rows: 1000, rowHeight: 18, viewport: 360 };
const huge: IMetrics = { rows: 1_000_000, rowHeight: 18, viewport: 540 };

describe('log viewport', () => {
  it('renders only the rows in view plus overscan', () => {
    const range = visibleRange(small, 18 * 100, 5);
    expect(range.first).toBe(95);
    expect(range.last).toBe(125);
    expect(range.offset).toBe(95 * 18);
  });

  it('renders nothing for an empty log and everything for a short one', () => {
    expect(visibleRange({ ...small, rows: 0 }, 0)).toEqual({
      first: 0,
      last: 0,
      offset: 0
    });
    const short = visibleRange({ ...small, rows: 7 }, 0, 10);
    expect(short).toEqual({ first: 0, last: 7, offset: 0 });
    expect(maxScrollTop({ ...small, rows: 7 })).toBe(0);
  });

  it('caps the scroll height for a million rows below browsers’ element limits', () => {
    expect(huge.rows * huge.rowHeight).toBeGreaterThan(MAX_SCROLL_HEIGHT);
    expect(scrollHeight(huge)).toBe(MAX_SCROLL_HEIGHT);
    expect(scrollHeight(small)).toBe(18_000);
  });

  it('reaches the first and the last of a million rows at the ends of the scaled scroll range', () => {
    const top = visibleRange(huge, 0, 0);
    expect(top.first).toBe(0);
    expect(top.offset).toBe(0);
    const end = visibleRange(huge, maxScrollTop(huge), 0);
    expect(end.last).toBe(huge.rows);
    expect(end.first).toBe(huge.rows - huge.viewport / huge.rowHeight);
    // The last row ends exactly at the bottom of the scroll content.
    expect(end.offset + (end.last - end.first) * huge.rowHeight).toBeCloseTo(
      scrollHeight(huge),
      3
    );
    expect(isAtEnd(huge, maxScrollTop(huge))).toBe(true);
    expect(isAtEnd(huge, maxScrollTop(huge) - 100)).toBe(false);
  });

  it('never places rows below the spacer, so rendering cannot grow the scroll height', () => {
    for (const metrics of [
      small,
      huge,
      { rows: 3_000_000, rowHeight: 18, viewport: 700 }
    ]) {
      for (let step = 0; step <= 100; step++) {
        const scrollTop = (maxScrollTop(metrics) * step) / 100;
        const range = visibleRange(metrics, scrollTop, 20);
        const bottom =
          range.offset + (range.last - range.first) * metrics.rowHeight;
        expect(bottom).toBeLessThanOrEqual(scrollHeight(metrics) + 1e-6);
        // Every row in the viewport is rendered.
        const first = Math.floor(topRow(metrics, scrollTop));
        const inView = Math.min(
          metrics.rows,
          Math.ceil(
            topRow(metrics, scrollTop) + metrics.viewport / metrics.rowHeight
          )
        );
        expect(range.first).toBeLessThanOrEqual(first);
        expect(range.last).toBeGreaterThanOrEqual(inView);
      }
    }
  });

  it('places the row at the top of the viewport exactly at the scroll position', () => {
    for (const metrics of [small, huge]) {
      const scrollTop = maxScrollTop(metrics) * 0.37;
      const range = visibleRange(metrics, scrollTop, 3);
      const top = topRow(metrics, scrollTop);
      const y = range.offset + (top - range.first) * metrics.rowHeight;
      expect(y).toBeCloseTo(scrollTop, 6);
    }
  });

  it('finds the scroll position of a row back (to keep the place when lines arrive)', () => {
    for (const metrics of [small, huge]) {
      for (const row of [0, 12.5, 400, metrics.rows / 2]) {
        expect(topRow(metrics, scrollTopFor(metrics, row))).toBeCloseTo(row, 6);
      }
    }
    expect(scrollTopFor(small, 10_000)).toBe(maxScrollTop(small));
    expect(scrollTopFor(huge, -5)).toBe(0);
  });
});
