/**
 * Virtual scrolling maths for fixed-height rows.
 *
 * Only the rows in view (plus some overscan) are in the DOM; a spacer gives the
 * scroller its height. Browsers cap an element's height (about 17.9M px in
 * Firefox, 33.5M px in Chrome), and a million 18 px rows need 18M px, so past
 * `MAX_SCROLL_HEIGHT` the scroll space is scaled: the scroll fraction maps
 * linearly onto the first row in view, and rows are placed relative to the
 * scroll position so they still move by whole rows as one scrolls.
 */

/** The tallest spacer used, safely below every browser's limit. */
export const MAX_SCROLL_HEIGHT = 8_000_000;

export interface IMetrics {
  /** Number of rows. */
  rows: number;
  /** Height of one row, px. */
  rowHeight: number;
  /** Visible height of the scroller, px. */
  viewport: number;
  /** Cap of the scroll height, px (defaults to `MAX_SCROLL_HEIGHT`). */
  maxHeight?: number;
}

export interface IRange {
  /** First row to render. */
  first: number;
  /** One past the last row to render. */
  last: number;
  /** Where row `first` goes, px from the top of the scroll content. */
  offset: number;
}

/** The height the spacer gives the scroll content. */
export function scrollHeight(m: IMetrics): number {
  return Math.min(m.rows * m.rowHeight, m.maxHeight ?? MAX_SCROLL_HEIGHT);
}

/** The largest scrollTop: the end of the log. */
export function maxScrollTop(m: IMetrics): number {
  return Math.max(0, scrollHeight(m) - m.viewport);
}

/** Rows that fit in the viewport (fractional). */
function rowsInView(m: IMetrics): number {
  return m.viewport / m.rowHeight;
}

function isScaled(m: IMetrics): boolean {
  return m.rows * m.rowHeight > scrollHeight(m);
}

/** The (fractional) row at the top of the viewport for a scrollTop. */
export function topRow(m: IMetrics, scrollTop: number): number {
  const top = Math.min(Math.max(scrollTop, 0), maxScrollTop(m));
  if (!isScaled(m)) {
    return top / m.rowHeight;
  }
  const range = maxScrollTop(m);
  const fraction = range > 0 ? top / range : 0;
  return fraction * Math.max(0, m.rows - rowsInView(m));
}

/** The scrollTop that puts (fractional) `row` at the top of the viewport. */
export function scrollTopFor(m: IMetrics, row: number): number {
  if (!isScaled(m)) {
    return Math.min(Math.max(row * m.rowHeight, 0), maxScrollTop(m));
  }
  const span = Math.max(0, m.rows - rowsInView(m));
  const fraction = span > 0 ? Math.min(Math.max(row / span, 0), 1) : 0;
  return fraction * maxScrollTop(m);
}

/** Whether a scrollTop shows the last row (within `slack` px). */
export function isAtEnd(m: IMetrics, scrollTop: number, slack = 2): boolean {
  return scrollTop >= maxScrollTop(m) - slack;
}

/**
 * The rows to render for a scrollTop, with `overscan` extra rows on each side.
 * No rendered row reaches below the spacer, so rendering never grows the
 * scroll height it was computed from.
 */
export function visibleRange(
  m: IMetrics,
  scrollTop: number,
  overscan = 10
): IRange {
  if (m.rows === 0 || m.rowHeight <= 0) {
    return { first: 0, last: 0, offset: 0 };
  }
  const top = topRow(m, scrollTop);
  const clamped = Math.min(Math.max(scrollTop, 0), maxScrollTop(m));
  const first = Math.max(0, Math.floor(top) - overscan);
  let last = Math.min(m.rows, Math.ceil(top + rowsInView(m)) + overscan);
  const offset = clamped + (first - top) * m.rowHeight;
  const fitting = Math.floor((scrollHeight(m) - offset) / m.rowHeight + 1e-6);
  last = Math.max(first, Math.min(last, first + fitting));
  return { first, last, offset };
}
