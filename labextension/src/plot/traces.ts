/**
 * The plot view's Plotly figure: one trace per visible series, on the y axis
 * of its unit and the x axis of its x unit (a signal in seconds and its
 * spectrum in hertz get a bottom and a top axis), coloured by the theme.
 */
import { axesLayout, IAxisInfo, assignAxes, axisId } from './axes';
import { LineMode } from './config';
import { IFigure, Trace } from './plotly';
import { plotCanvas, ITheme } from './theme';

/** A series apart from its data: how it is named, drawn and put on axes. The graph keeps it while the data is fetched. */
export interface ISeriesLook {
  /** Legend entry, e.g. "s1 v1 · amplitude". */
  label: string;
  mode: LineMode;
  color: string;
  /** What the y values are, e.g. "Signal amplitude". */
  yTitle: string;
  unit: string;
  xTitle: string;
  xUnit: string;
}

export interface IPlotSeries extends ISeriesLook {
  x: (number | null)[];
  y: (number | null)[];
}

export interface IPlotFigure extends IFigure {
  /** The x unit of each x axis, in axis order: how a zoom on 'xaxis2' finds its series. */
  xUnits: string[];
}

/** An axis title from the series on it: their distinct names, a few at most. */
function joinTitles(titles: readonly string[]): string {
  const distinct = [...new Set(titles.filter(t => t))];
  return distinct.length > 3
    ? `${distinct.slice(0, 3).join(', ')}, …`
    : distinct.join(', ');
}

function axisInfos(
  assignment: { units: string[]; axisOf: number[] },
  series: readonly IPlotSeries[],
  title: (s: IPlotSeries) => string
): IAxisInfo[] {
  return assignment.units.map((unit, index) => {
    const on = series.filter((_, i) => assignment.axisOf[i] === index);
    return {
      unit,
      title: joinTitles(on.map(title)),
      color:
        on.length === 1 && assignment.units.length > 1 ? on[0].color : undefined
    };
  });
}

export function buildFigure(
  series: readonly IPlotSeries[],
  theme: ITheme,
  size: { width: number; height: number },
  uirevision: string
): IPlotFigure {
  const xs = assignAxes(series.map(s => s.xUnit));
  const ys = assignAxes(series.map(s => s.unit));
  const yLayout = axesLayout(
    'y',
    axisInfos(ys, series, s => s.yTitle),
    size.width,
    theme
  );
  const xLayout = axesLayout(
    'x',
    axisInfos(xs, series, s => s.xTitle),
    size.height,
    theme
  );
  for (const axis of Object.values(xLayout.axes)) {
    axis.domain = yLayout.domain;
  }
  for (const axis of Object.values(yLayout.axes)) {
    axis.domain = xLayout.domain;
  }
  const data: Trace[] = series.map((s, i) => {
    const unit = s.unit ? ` ${s.unit}` : '';
    const xUnit = s.xUnit ? ` ${s.xUnit}` : '';
    return {
      type: 'scatter',
      mode: s.mode,
      name: s.label,
      x: s.x,
      y: s.y,
      xaxis: axisId('x', xs.axisOf[i]),
      yaxis: axisId('y', ys.axisOf[i]),
      line: { color: s.color, width: 1.5 },
      marker: { color: s.color, size: 5 },
      hovertemplate: `%{y:.6g}${unit}<br>${s.xTitle} %{x:.6g}${xUnit}<extra>${s.label}</extra>`
    };
  });
  const topAxes = xs.units.length > 1;
  return {
    data,
    layout: {
      ...plotCanvas(theme, size),
      margin: { l: 56, r: 24, t: topAxes ? 24 : 40, b: 48 },
      showlegend: series.length > 0,
      legend: topAxes
        ? {
            orientation: 'h',
            x: 0,
            xanchor: 'left',
            y: 0,
            yanchor: 'bottom',
            yref: 'container'
          }
        : {
            orientation: 'h',
            x: 0,
            xanchor: 'left',
            y: 1.02,
            yanchor: 'bottom'
          },
      hovermode: 'closest',
      hoverlabel: { font: { family: theme.fontFamily } },
      modebar: {
        bgcolor: 'rgba(0,0,0,0)',
        color: theme.fontMuted,
        activecolor: theme.font
      },
      uirevision,
      ...xLayout.axes,
      ...yLayout.axes
    },
    xUnits: xs.units
  };
}
