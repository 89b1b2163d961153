import { describe, expect, it } from 'vitest';
import { buildFigure, IPlotSeries } from '../src/plot/traces';
import { THEME } from './plot-fixtures';

const series = (
  label: string,
  unit: string,
  xUnit = 's',
  color = '#1f77b4'
): IPlotSeries => ({
  label,
  mode: 'lines',
  color,
  yTitle: 'Signal amplitude',
  unit,
  xTitle: xUnit === 's' ? 'Time' : 'Frequency',
  xUnit,
  x: [0, 1, 2],
  y: [1, null, 3]
});

describe('plot figure', () => {
  it('draws each series on the y axis of its unit', () => {
    const figure = buildFigure(
      [series('s1', 'mm/s'), series('s2', 'nm'), series('s3', 'mm/s')],
      THEME,
      { width: 800, height: 500 },
      'r'
    );
    expect(figure.data.map(t => [t.name, t.yaxis, t.xaxis])).toEqual([
      ['s1', 'y', 'x'],
      ['s2', 'y2', 'x'],
      ['s3', 'y', 'x']
    ]);
    expect(
      (figure.layout.yaxis as { title: { text: string } }).title.text
    ).toBe('Signal amplitude [mm/s]');
    expect(
      (figure.layout.yaxis2 as { title: { text: string } }).title.text
    ).toBe('Signal amplitude [nm]');
  });

  it('shows the chosen element type and colour, with gaps where values are missing', () => {
    const figure = buildFigure(
      [{ ...series('s1', 'nm', 's', '#d62728'), mode: 'markers' }],
      THEME,
      { width: 800, height: 500 },
      'r'
    );
    expect(figure.data[0]).toMatchObject({
      type: 'scatter',
      mode: 'markers',
      y: [1, null, 3]
    });
    expect((figure.data[0].marker as { color: string }).color).toBe('#d62728');
  });

  it('puts a spectrum in hertz on a top axis over a signal in seconds', () => {
    const figure = buildFigure(
      [series('signal', 'mm/s'), series('spectrum', 'mm/s', 'Hz')],
      THEME,
      { width: 800, height: 500 },
      'r'
    );
    expect(figure.xUnits).toEqual(['s', 'Hz']);
    expect(figure.data.map(t => t.xaxis)).toEqual(['x', 'x2']);
    expect(figure.layout.xaxis2).toMatchObject({
      side: 'top',
      overlaying: 'x'
    });
  });

  it('takes its colours from the JupyterLab theme', () => {
    const dark = {
      ...THEME,
      paper: '#111111',
      plot: '#111111',
      font: '#eeeeee',
      grid: '#333333'
    };
    const figure = buildFigure(
      [series('s1', 'nm')],
      dark,
      { width: 800, height: 500 },
      'r'
    );
    expect(figure.layout).toMatchObject({
      paper_bgcolor: '#111111',
      plot_bgcolor: '#111111',
      font: { color: '#eeeeee' }
    });
    expect(figure.layout.xaxis).toMatchObject({ gridcolor: '#333333' });
  });

  it('is drawn at the size of its panel', () => {
    expect(
      buildFigure([], THEME, { width: 640, height: 480 }, 'r').layout
    ).toMatchObject({ width: 640, height: 480 });
  });

  it('keeps the zoom across redraws through its ui revision', () => {
    expect(
      buildFigure([], THEME, { width: 800, height: 500 }, 'same').layout
        .uirevision
    ).toBe('same');
  });
});
