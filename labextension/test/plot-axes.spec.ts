import { describe, expect, it } from 'vitest';
import {
  assignAxes,
  axesLayout,
  axisId,
  axisKey,
  axisTitle
} from '../src/plot/axes';
import { THEME } from './plot-fixtures';

describe('axes by unit', () => {
  it('puts series in the same unit on one axis and gives each other unit its own', () => {
    expect(assignAxes(['mm/s', 'nm', 'mm/s', 'Hz', 'nm'])).toEqual({
      units: ['mm/s', 'nm', 'Hz'],
      axisOf: [0, 1, 0, 2, 1]
    });
  });

  it('treats dimensionless series as one more unit', () => {
    expect(assignAxes(['', 'm', ''])).toEqual({
      units: ['', 'm'],
      axisOf: [0, 1, 0]
    });
  });

  it('needs no axis without series', () => {
    expect(assignAxes([])).toEqual({ units: [], axisOf: [] });
  });

  it('names axes as Plotly does', () => {
    expect([axisId('y', 0), axisId('y', 1), axisId('x', 2)]).toEqual([
      'y',
      'y2',
      'x3'
    ]);
    expect([axisKey('y', 0), axisKey('y', 1), axisKey('x', 2)]).toEqual([
      'yaxis',
      'yaxis2',
      'xaxis3'
    ]);
  });

  it('always puts the unit in the axis title', () => {
    expect(axisTitle({ unit: 'mm/s', title: 'Signal amplitude' })).toBe(
      'Signal amplitude [mm/s]'
    );
    expect(axisTitle({ unit: '', title: 'Ratio' })).toBe('Ratio');
  });

  it('places the first y axis left, the second right and further ones further right', () => {
    const { axes, domain } = axesLayout(
      'y',
      [
        { unit: 'mm/s', title: 'a' },
        { unit: 'nm', title: 'b' },
        { unit: 'Hz', title: 'c' },
        { unit: 'K', title: 'd' }
      ],
      1000,
      THEME
    );
    expect(axes.yaxis).toMatchObject({ side: 'left', anchor: 'x' });
    expect(axes.yaxis.overlaying).toBeUndefined();
    expect(axes.yaxis2).toMatchObject({
      side: 'right',
      anchor: 'x',
      overlaying: 'y'
    });
    expect(axes.yaxis3).toMatchObject({
      side: 'right',
      anchor: 'free',
      overlaying: 'y'
    });
    expect(axes.yaxis4).toMatchObject({
      side: 'right',
      anchor: 'free',
      overlaying: 'y'
    });
    // The plot area gives up 80 px per extra axis; extra axes stand 80 px apart beyond it.
    expect(domain[0]).toBe(0);
    expect(domain[1]).toBeCloseTo(1 - 2 * 0.08);
    expect(axes.yaxis3.position).toBeCloseTo(domain[1] + 0.08);
    expect(axes.yaxis4.position).toBeCloseTo(domain[1] + 2 * 0.08);
    expect(axes.yaxis4.position as number).toBeLessThanOrEqual(1);
  });

  it('keeps the whole width for the plot with one or two y axes', () => {
    expect(
      axesLayout(
        'y',
        [
          { unit: 'a', title: '' },
          { unit: 'b', title: '' }
        ],
        800,
        THEME
      ).domain
    ).toEqual([0, 1]);
  });

  it('puts a second x unit on a top axis', () => {
    const { axes } = axesLayout(
      'x',
      [
        { unit: 's', title: 'Time' },
        { unit: 'Hz', title: 'Frequency' }
      ],
      600,
      THEME
    );
    expect(axes.xaxis).toMatchObject({ side: 'bottom', anchor: 'y' });
    expect(axes.xaxis2).toMatchObject({
      side: 'top',
      anchor: 'y',
      overlaying: 'x'
    });
    expect((axes.xaxis2.title as { text: string }).text).toBe('Frequency [Hz]');
  });

  it('colours an axis title like its only series so a reader can tell the scales apart', () => {
    const { axes } = axesLayout(
      'y',
      [{ unit: 'nm', title: 'b', color: '#ff7f0e' }],
      600,
      THEME
    );
    expect((axes.yaxis.title as { font: { color: string } }).font.color).toBe(
      '#ff7f0e'
    );
    expect(axes.yaxis.gridcolor).toBe(THEME.grid);
  });
});
