/**
 * Decimation and zoom: the server sends about as many points as the plot is
 * wide; when the user zooms in on an x axis the visible range is fetched again
 * at full resolution, and autorange (double-click, "reset axes") goes back to
 * the whole range.
 */

/** An x axis' explicit range after a zoom or pan; null for the whole data range. */
export type XRange = [number, number] | null;

const RANGE_KEYS = {
  x: /^(xaxis\d*)\.range(?:\[(0|1)\])?$/,
  y: /^(yaxis\d*)\.range(?:\[(0|1)\])?$/
};
const AUTORANGE_KEYS = {
  x: /^(xaxis\d*)\.autorange$/,
  y: /^(yaxis\d*)\.autorange$/
};

/**
 * The x ranges a plotly_relayout event changed, keyed by layout axis name
 * ('xaxis', 'xaxis2', ...). Zoom and pan give `xaxis.range[0]`/`[1]` (or a
 * `xaxis.range` pair); double-click and reset give `xaxis.autorange: true`.
 * Events that only touch y axes, the size or the drag mode change nothing.
 */
export function rangeChanges(
  event: Record<string, unknown>,
  direction: 'x' | 'y' = 'x'
): Map<string, XRange> {
  const RANGE_KEY = RANGE_KEYS[direction];
  const AUTORANGE_KEY = AUTORANGE_KEYS[direction];
  const changes = new Map<string, XRange>();
  const partial = new Map<string, [number | undefined, number | undefined]>();
  for (const [key, value] of Object.entries(event)) {
    const auto = AUTORANGE_KEY.exec(key);
    if (auto && value === true) {
      changes.set(auto[1], null);
      continue;
    }
    const match = RANGE_KEY.exec(key);
    if (!match) {
      continue;
    }
    const axis = match[1];
    if (match[2] === undefined) {
      if (Array.isArray(value) && value.length === 2) {
        const [a, b] = value.map(Number);
        if (Number.isFinite(a) && Number.isFinite(b)) {
          changes.set(axis, a <= b ? [a, b] : [b, a]);
        }
      }
      continue;
    }
    const pair = partial.get(axis) ?? [undefined, undefined];
    pair[Number(match[2])] = Number(value);
    partial.set(axis, pair);
  }
  for (const [axis, [a, b]] of partial) {
    if (
      a !== undefined &&
      b !== undefined &&
      Number.isFinite(a) &&
      Number.isFinite(b)
    ) {
      changes.set(axis, a <= b ? [a, b] : [b, a]);
    }
  }
  return changes;
}

export const MIN_POINTS = 200;
export const MAX_POINTS = 100_000;

/** How many points to ask for: about one per pixel of the plot's width. */
export function pointsFor(width: number): number {
  return Math.min(MAX_POINTS, Math.max(MIN_POINTS, Math.round(width)));
}

/**
 * Whether a plot now `width` pixels wide should fetch again, having fetched
 * `points`: only when it grew well past what it has (shrinking loses nothing),
 * so a resize does not refetch on every pixel.
 */
export function needsMorePoints(points: number, width: number): boolean {
  return pointsFor(width) > points * 1.25;
}

export interface IViewSummary {
  /** Points received. */
  shown: number;
  /** Points in the requested range on the server. */
  inRange: number;
  /** Points in the whole dataset. */
  total: number;
  decimated: boolean;
}

/**
 * The status line: "decimated: 2000 of 100000 points" when the server thinned
 * the data, else "100000 points"; a zoomed range also says how many the whole
 * dataset has.
 */
export function statusText(views: readonly IViewSummary[]): string {
  if (views.length === 0) {
    return '';
  }
  const sum = (pick: (v: IViewSummary) => number) =>
    views.reduce((n, v) => n + pick(v), 0);
  const shown = sum(v => v.shown);
  const inRange = sum(v => v.inRange);
  const total = sum(v => v.total);
  const whole = inRange === total ? '' : ` in range (${total} in all)`;
  if (views.some(v => v.decimated)) {
    return `decimated: ${shown} of ${inRange} points${whole}`;
  }
  return `${inRange} points${whole ? `${whole}, full resolution` : ''}`;
}
