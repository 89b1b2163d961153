import { describe, expect, it } from 'vitest';
import {
  EMPTY_CONFIG,
  followedDatasets,
  nextColor,
  normalizeSeries,
  PALETTE,
  parseConfig,
  IPlotConfig,
  seriesSchema,
  toggleVariable,
  withDatasets
} from '../src/plot/config';
import {
  coordinateOf,
  datasetLabel,
  defaultVariables,
  geoVariables,
  mappableDatasets,
  plottableDatasets,
  plottableVariables,
  variableLabel
} from '../src/plot/datasets';
import { dataset, signal, spectrum, survey } from './plot-fixtures';

const known = [signal(1), signal(2, 'nm'), spectrum(3), survey(4)];

describe('what can be plotted', () => {
  it('offers 1-D variables and plots them against their dimension coordinate', () => {
    expect(plottableVariables(signal(1)).map(v => v.name)).toEqual([
      'amplitude'
    ]);
    expect(coordinateOf(signal(1), 'time')?.name).toBe('time');
    expect(plottableVariables(survey(4)).map(v => v.name)).toEqual([
      'latitude',
      'longitude',
      'gravity_anomaly'
    ]);
  });

  it('plots what a dataset measures by default, not where or when it was measured', () => {
    expect(defaultVariables(survey(4)).map(v => v.name)).toEqual([
      'gravity_anomaly'
    ]);
    expect(defaultVariables(signal(1)).map(v => v.name)).toEqual(['amplitude']);
    const logger = dataset(
      6,
      [
        { name: 'time', units: 's', dims: ['sample'] },
        { name: 'clock', units: 'seconds since 2026-01-01', dims: ['sample'] },
        { name: 'station', dims: ['sample'] },
        { name: 'pressure', units: 'hPa', dims: ['sample'] },
        { name: 'humidity', units: '%', dims: ['sample'] }
      ],
      { dims: { sample: 10, station: 3 } }
    );
    expect(defaultVariables(logger).map(v => v.name)).toEqual([
      'pressure',
      'humidity'
    ]);
  });

  it('plots the places when a dataset has nothing else', () => {
    const track = dataset(7, [
      { name: 'lat', dims: ['n'] },
      { name: 'lon', dims: ['n'] }
    ]);
    expect(defaultVariables(track).map(v => v.name)).toEqual(['lat', 'lon']);
  });

  it('offers NetCDF datasets only, newest first', () => {
    const csv = dataset(9, [{ name: 'a', dims: ['row'] }], {
      mime_type: 'text/csv'
    });
    expect(plottableDatasets([...known, csv]).map(d => d.id)).toEqual([
      4, 3, 2, 1
    ]);
  });

  it('names a dataset by the run that made it', () => {
    expect(datasetLabel(signal(1), [{ id: 1, name: 's1' }])).toBe(
      's1 v1 · signal.nc'
    );
    expect(datasetLabel(signal(1, 'nm'), [])).toBe('signal.nc');
    expect(
      variableLabel({
        name: 'amplitude',
        long_name: 'Signal amplitude',
        units: 'nm'
      })
    ).toBe('Signal amplitude [nm]');
  });

  it('finds latitude and longitude by CF units or by name', () => {
    const geo = geoVariables(survey(4));
    expect(geo?.latitude.name).toBe('latitude');
    expect(geo?.longitude.name).toBe('longitude');
    expect(geo?.values.map(v => v.name)).toEqual(['gravity_anomaly']);
    const byName = dataset(5, [
      { name: 'lat', dims: ['n'] },
      { name: 'lon', dims: ['n'] },
      { name: 'depth', units: 'm', dims: ['n'] }
    ]);
    expect(geoVariables(byName)?.values.map(v => v.name)).toEqual(['depth']);
    expect(geoVariables(signal(1))).toBeNull();
    expect(mappableDatasets(known).map(d => d.id)).toEqual([4]);
  });
});

describe('plot choices', () => {
  it('plots a survey as its mGal series alone on one y axis, not beside latitude and longitude', () => {
    const config = withDatasets(EMPTY_CONFIG, [4], known);
    expect(config.series).toEqual([
      {
        dataset: 4,
        variable: 'gravity_anomaly',
        mode: 'lines',
        color: PALETTE[0],
        visible: true
      }
    ]);
    expect(
      toggleVariable(config, 4, 'latitude').series.map(s => s.variable)
    ).toEqual(['gravity_anomaly', 'latitude']);
  });

  it('gives a newly chosen dataset one line per variable in a fresh colour', () => {
    const config = withDatasets(EMPTY_CONFIG, [1, 2], known);
    expect(config.series).toEqual([
      {
        dataset: 1,
        variable: 'amplitude',
        mode: 'lines',
        color: PALETTE[0],
        visible: true
      },
      {
        dataset: 2,
        variable: 'amplitude',
        mode: 'lines',
        color: PALETTE[1],
        visible: true
      }
    ]);
  });

  it('keeps the settings of series whose dataset stays chosen and drops the others', () => {
    let config = withDatasets(EMPTY_CONFIG, [1, 2], known);
    config = {
      ...config,
      series: config.series.map(s =>
        s.dataset === 2 ? { ...s, mode: 'markers' } : s
      )
    };
    config = withDatasets(config, [2, 3], known);
    expect(config.datasets).toEqual([2, 3]);
    expect(config.series.map(s => [s.dataset, s.mode])).toEqual([
      [2, 'markers'],
      [3, 'lines']
    ]);
  });

  it('toggles a variable on and off', () => {
    const on = toggleVariable(EMPTY_CONFIG, 4, 'gravity_anomaly');
    expect(on.series).toHaveLength(1);
    expect(toggleVariable(on, 4, 'gravity_anomaly').series).toHaveLength(0);
  });

  it('repairs form edits: a variable the new dataset lacks becomes its first one worth plotting', () => {
    const config: IPlotConfig = { follow: false, datasets: [1], series: [] };
    const edited = normalizeSeries(
      config,
      [{ dataset: 4, variable: 'amplitude', mode: 'markers', color: '' }],
      known
    );
    expect(edited.series).toEqual([
      {
        dataset: 4,
        variable: 'gravity_anomaly',
        mode: 'markers',
        color: PALETTE[0],
        visible: true
      }
    ]);
    expect(edited.datasets).toEqual([1, 4]);
  });

  it('drops form series of datasets the project does not have', () => {
    expect(
      normalizeSeries(EMPTY_CONFIG, [{ dataset: 99, variable: 'x' }], known)
        .series
    ).toEqual([]);
  });

  it('picks the first unused palette colour', () => {
    expect(nextColor([{ color: PALETTE[0] }, { color: PALETTE[2] }])).toBe(
      PALETTE[1]
    );
  });

  it('follows the NetCDF outputs of the selected version', () => {
    const log = dataset(8, [], { mime_type: 'text/plain' });
    expect(followedDatasets([signal(1), log])).toEqual([1]);
    expect(followedDatasets(undefined)).toEqual([]);
  });

  it('restores a stored config and refuses a foreign value', () => {
    const config = withDatasets({ ...EMPTY_CONFIG, follow: false }, [1], known);
    expect(parseConfig(JSON.parse(JSON.stringify(config)))).toEqual(config);
    expect(parseConfig({ follow: 'yes' })).toBeNull();
    expect(parseConfig(null)).toBeNull();
    expect(
      parseConfig({
        follow: true,
        datasets: [1, 'x'],
        series: [{ dataset: 1 }]
      })
    ).toEqual({
      follow: true,
      datasets: [1],
      series: []
    });
  });

  it("offers in the form only the variables of each series' own dataset", () => {
    const schema = seriesSchema(known, [{ id: 1, name: 's1' }]);
    const choices = (...values: unknown[]) =>
      values.map(c => expect.objectContaining({ const: c }));
    expect(schema).toMatchObject({
      properties: {
        series: {
          items: {
            properties: {
              dataset: { oneOf: choices(1, 2, 3, 4) },
              mode: { oneOf: choices('lines', 'markers', 'lines+markers') },
              color: { format: 'color' }
            },
            dependencies: {
              dataset: {
                oneOf: expect.arrayContaining([
                  {
                    properties: expect.objectContaining({
                      dataset: { enum: [4] },
                      variable: expect.objectContaining({
                        oneOf: choices(
                          'latitude',
                          'longitude',
                          'gravity_anomaly'
                        ),
                        default: 'gravity_anomaly'
                      })
                    })
                  }
                ])
              }
            }
          }
        }
      }
    });
  });
});
