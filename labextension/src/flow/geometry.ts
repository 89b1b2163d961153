/**
 * Viewport and drawing geometry of the flow view, kept pure so that zooming,
 * fitting, edge shapes and keyboard moves are tested without a browser.
 */
import { IPoint } from './layout';

export interface IRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Screen = graph × k + (x, y). */
export interface ITransform {
  x: number;
  y: number;
  k: number;
}

export const MIN_ZOOM = 0.02;
export const MAX_ZOOM = 4;

export function clampZoom(k: number): number {
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, k));
}

export function boundsOf(rects: Iterable<IRect>): IRect | null {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const r of rects) {
    x0 = Math.min(x0, r.x);
    y0 = Math.min(y0, r.y);
    x1 = Math.max(x1, r.x + r.width);
    y1 = Math.max(y1, r.y + r.height);
  }
  return x0 === Infinity
    ? null
    : { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** The transform showing all of `bounds` centred, never magnified past `maxK` (a lone node stays readable, not huge). */
export function fitTransform(
  bounds: IRect | null,
  viewWidth: number,
  viewHeight: number,
  padding = 32,
  maxK = 1.25
): ITransform {
  if (!bounds || viewWidth <= 0 || viewHeight <= 0) {
    return { x: padding, y: padding, k: 1 };
  }
  const k = clampZoom(
    Math.min(
      maxK,
      (viewWidth - 2 * padding) / Math.max(bounds.width, 1),
      (viewHeight - 2 * padding) / Math.max(bounds.height, 1)
    )
  );
  return {
    k,
    x: viewWidth / 2 - (bounds.x + bounds.width / 2) * k,
    y: viewHeight / 2 - (bounds.y + bounds.height / 2) * k
  };
}

/** Zoom by `factor` keeping the graph point under the screen point (cx, cy) in place. */
export function zoomAt(
  t: ITransform,
  factor: number,
  cx: number,
  cy: number
): ITransform {
  const k = clampZoom(t.k * factor);
  const ratio = k / t.k;
  return { k, x: cx - (cx - t.x) * ratio, y: cy - (cy - t.y) * ratio };
}

/** Pan as little as needed to bring `rect` (graph coordinates) into view with a margin. */
export function reveal(
  t: ITransform,
  rect: IRect,
  viewWidth: number,
  viewHeight: number,
  margin = 24
): ITransform {
  const shift = (start: number, size: number, view: number) => {
    if (size + 2 * margin > view) {
      return view / 2 - (start + size / 2);
    }
    if (start < margin) {
      return margin - start;
    }
    if (start + size > view - margin) {
      return view - margin - (start + size);
    }
    return 0;
  };
  return {
    k: t.k,
    x: t.x + shift(rect.x * t.k + t.x, rect.width * t.k, viewWidth),
    y: t.y + shift(rect.y * t.k + t.y, rect.height * t.k, viewHeight)
  };
}

const HEAD_LENGTH = 8;
const HEAD_HALF_WIDTH = 4.5;

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/**
 * An edge from the right side of `from` to the left side of `to`, through the
 * bends of its layered route, as smooth horizontal-tangent curves; the arrow
 * head is a separate closed path so that all heads can share one element.
 */
export function edgePath(
  from: IRect,
  to: IRect,
  bends: readonly IPoint[]
): { line: string; head: string } {
  const tip = { x: to.x, y: to.y + to.height / 2 };
  const points = [
    { x: from.x + from.width, y: from.y + from.height / 2 },
    ...bends,
    { x: tip.x - HEAD_LENGTH + 1, y: tip.y }
  ];
  let line = `M${round(points[0].x)} ${round(points[0].y)}`;
  for (let i = 1; i < points.length; i++) {
    const p = points[i - 1];
    const q = points[i];
    const c = Math.max(Math.abs(q.x - p.x) / 2, 24);
    line += `C${round(p.x + c)} ${round(p.y)} ${round(q.x - c)} ${round(q.y)} ${round(q.x)} ${round(q.y)}`;
  }
  const head =
    `M${round(tip.x - HEAD_LENGTH)} ${round(tip.y - HEAD_HALF_WIDTH)}` +
    `L${round(tip.x)} ${round(tip.y)}L${round(tip.x - HEAD_LENGTH)} ${round(tip.y + HEAD_HALF_WIDTH)}Z`;
  return { line, head };
}

export type Direction = 'left' | 'right' | 'up' | 'down';

const DIRECTIONS: Record<Direction, IPoint> = {
  left: { x: -1, y: 0 },
  right: { x: 1, y: 0 },
  up: { x: 0, y: -1 },
  down: { x: 0, y: 1 }
};

/**
 * The candidate an arrow key moves to: the nearest centre ahead in that
 * direction, sideways distance counting double so the move stays on its line.
 */
export function nearestInDirection(
  from: IPoint,
  candidates: readonly { id: string; center: IPoint }[],
  direction: Direction
): string | null {
  const d = DIRECTIONS[direction];
  let best: string | null = null;
  let bestScore = Infinity;
  for (const candidate of candidates) {
    const dx = candidate.center.x - from.x;
    const dy = candidate.center.y - from.y;
    const ahead = dx * d.x + dy * d.y;
    if (ahead <= 0.5) {
      continue;
    }
    const score = ahead + 2 * Math.abs(dx * d.y - dy * d.x);
    if (score < bestScore) {
      bestScore = score;
      best = candidate.id;
    }
  }
  return best;
}
