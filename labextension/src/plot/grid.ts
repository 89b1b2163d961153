/**
 * A 2-D variable in the plot view: requested as a grid of about as many cells
 * as the plot has pixels (the server reduces blocks of cells), drawn alone as
 * a Plotly heatmap or contour plot whose colour bar names the unit. A zoom
 * asks for the visible x and y ranges again, at full resolution when they are
 * small enough.
 */
import { IDatasetGrid, IGridQuery } from '../api';
import { axisTitle } from './axes';
import { GridMode } from './config';
import { IFigure, Trace } from './plotly';
import { plotCanvas, ITheme } from './theme';
import { XRange } from './zoom';

/** A grid series resolved from the config and the dataset's metadata. */
export interface IResolvedGrid {
  dataset: number;
  variable: string;
  mode: GridMode;
  /** Figure title, e.g. "inv v1 · density_contrast". */
  label: string;
  /** What the values are, e.g. "Density contrast". */
  zTitle: string;
  unit: string;
  xTitle: string;
  xUnit: string;
  yTitle: string;
  yUnit: string;
}

/** The server's largest side of a grid. */
export const MAX_CELLS_SIDE = 2000;
export const MIN_CELLS_SIDE = 16;

function cells(pixels: number): number {
  return Math.min(MAX_CELLS_SIDE, Math.max(MIN_CELLS_SIDE, Math.round(pixels)));
}

/** The grid request: one cell per pixel of the plot, within the zoomed ranges if any. */
export function gridQuery(
  grid: Pick<IResolvedGrid, 'variable'>,
  size: { width: number; height: number },
  xRange: XRange = null,
  yRange: XRange = null
): IGridQuery {
  const query: IGridQuery = {
    z: grid.variable,
    width: cells(size.width),
    height: cells(size.height)
  };
  if (xRange) {
    query.x0 = xRange[0];
    query.x1 = xRange[1];
  }
  if (yRange) {
    query.y0 = yRange[0];
    query.y1 = yRange[1];
  }
  return query;
}

/** "Density contrast [kg/m^3]": the colour bar's title. */
export function colorBarTitle(
  grid: Pick<IResolvedGrid, 'zTitle' | 'unit'>
): string {
  return axisTitle({ title: grid.zTitle, unit: grid.unit });
}

export function buildGridFigure(
  grid: IResolvedGrid,
  view: IDatasetGrid,
  theme: ITheme,
  size: { width: number; height: number },
  uirevision: string
): IFigure {
  const unit = grid.unit ? ` ${grid.unit}` : '';
  const xUnit = grid.xUnit ? ` ${grid.xUnit}` : '';
  const yUnit = grid.yUnit ? ` ${grid.yUnit}` : '';
  const trace: Trace = {
    type: grid.mode,
    name: grid.label,
    x: view.x.values,
    y: view.y.values,
    z: view.z.values,
    colorscale: 'Viridis',
    connectgaps: false,
    colorbar: {
      title: { text: colorBarTitle(grid), side: 'right' },
      tickfont: { color: theme.font },
      outlinewidth: 0
    },
    hovertemplate:
      `%{z:.6g}${unit}<br>${grid.xTitle} %{x:.6g}${xUnit}<br>` +
      `${grid.yTitle} %{y:.6g}${yUnit}<extra>${grid.label}</extra>`
  };
  if (grid.mode === 'contour') {
    trace.contours = {
      coloring: 'heatmap',
      showlabels: true,
      labelfont: { color: theme.font }
    };
    trace.line = { width: 0.5 };
  }
  const axis = (title: string, unitText: string) => ({
    title: {
      text: axisTitle({ title, unit: unitText }),
      font: { color: theme.font }
    },
    color: theme.font,
    gridcolor: theme.grid,
    linecolor: theme.border,
    zerolinecolor: theme.border,
    showline: true,
    showgrid: false,
    automargin: true
  });
  return {
    data: [trace],
    layout: {
      ...plotCanvas(theme, size),
      margin: { l: 56, r: 24, t: 32, b: 48 },
      showlegend: false,
      hovermode: 'closest',
      hoverlabel: { font: { family: theme.fontFamily } },
      modebar: {
        bgcolor: 'rgba(0,0,0,0)',
        color: theme.fontMuted,
        activecolor: theme.font
      },
      uirevision,
      xaxis: axis(grid.xTitle, grid.xUnit),
      yaxis: axis(grid.yTitle, grid.yUnit)
    }
  };
}

/** "decimated: 120 × 200 of 600 × 1000 cells", or "15 × 15 cells"; a zoom adds the whole grid's size. */
export function gridStatusText(
  view: Pick<IDatasetGrid, 'shape' | 'in_range' | 'total' | 'decimated'>
): string {
  const size = (pair: number[]) => `${pair[0]} × ${pair[1]}`;
  const zoomed =
    view.in_range[0] !== view.total[0] || view.in_range[1] !== view.total[1];
  const whole = zoomed ? ` in range (${size(view.total)} in all)` : '';
  if (view.decimated) {
    return `decimated: ${size(view.shape)} of ${size(view.in_range)} cells${whole}`;
  }
  return `${size(view.in_range)} cells${whole ? `${whole}, full resolution` : ''}`;
}
