/**
 * Axes by unit: series in the same unit share an axis, each other unit gets its
 * own. The first y axis is on the left, the second on the right, further ones
 * further right, each offset by a fixed number of pixels with the plot area
 * shrunk to make room; x axes likewise go bottom, top, then further up. Axis
 * titles carry the unit, so a reader never has to guess which scale a curve
 * uses.
 */
import { ITheme } from './theme';

export interface IAxisAssignment {
  /** The unit of each axis, in order of first appearance. */
  units: string[];
  /** For each series, the index of its axis in `units`. */
  axisOf: number[];
}

/** Assign series (given by unit; '' is dimensionless) to axes, one axis per distinct unit. */
export function assignAxes(units: readonly string[]): IAxisAssignment {
  const axes: string[] = [];
  const axisOf = units.map(unit => {
    const index = axes.indexOf(unit);
    if (index >= 0) {
      return index;
    }
    axes.push(unit);
    return axes.length - 1;
  });
  return { units: axes, axisOf };
}

/** Plotly's id of the n-th axis of a direction: 'y', 'y2', 'y3', ... */
export function axisId(direction: 'x' | 'y', index: number): string {
  return index === 0 ? direction : `${direction}${index + 1}`;
}

/** The layout key of the n-th axis: 'yaxis', 'yaxis2', ... */
export function axisKey(direction: 'x' | 'y', index: number): string {
  return `${direction}axis${index === 0 ? '' : index + 1}`;
}

/** Pixels between stacked extra axes: room for tick labels and a title. */
export const AXIS_OFFSET_PX = 80;

export interface IAxisInfo {
  unit: string;
  /** What the axis shows, e.g. "Signal amplitude"; the unit is added. */
  title: string;
  /** A colour for the title when one series alone uses the axis. */
  color?: string;
}

export interface IAxesLayout {
  /** Layout entries keyed 'xaxis', 'xaxis2', ... or 'yaxis', ... */
  axes: Record<string, Record<string, unknown>>;
  /** The fraction of the other direction's extent the plot area keeps: [0, end] or [start, 1]. */
  domain: [number, number];
}

/** An axis title that always names the unit: "Signal amplitude [mm/s]". */
export function axisTitle(info: IAxisInfo): string {
  return info.unit ? `${info.title} [${info.unit}]` : info.title;
}

/**
 * Layout for the axes of one direction. `size` is the plot's extent across
 * them in pixels (its width for y axes), which turns the fixed pixel offset
 * of the third and later axes into paper fractions.
 */
export function axesLayout(
  direction: 'x' | 'y',
  axes: readonly IAxisInfo[],
  size: number,
  theme: ITheme
): IAxesLayout {
  const other = direction === 'x' ? 'y' : 'x';
  const near = direction === 'x' ? 'bottom' : 'left';
  const far = direction === 'x' ? 'top' : 'right';
  const extra = Math.max(0, axes.length - 2);
  const step = AXIS_OFFSET_PX / Math.max(size, AXIS_OFFSET_PX * (extra + 2));
  const end = 1 - extra * step;
  const layout: Record<string, Record<string, unknown>> = {};
  axes.forEach((info, index) => {
    const axis: Record<string, unknown> = {
      title: {
        text: axisTitle(info),
        font: { color: info.color ?? theme.font }
      },
      color: theme.font,
      gridcolor: theme.grid,
      linecolor: theme.border,
      zerolinecolor: theme.border,
      showline: true,
      automargin: true,
      side: index === 0 ? near : far
    };
    if (index > 0) {
      axis.overlaying = direction;
      axis.showgrid = false;
    }
    if (index >= 2) {
      axis.anchor = 'free';
      axis.position = end + (index - 1) * step;
    } else {
      axis.anchor = other;
    }
    layout[axisKey(direction, index)] = axis;
  });
  return { axes: layout, domain: [0, end] };
}
