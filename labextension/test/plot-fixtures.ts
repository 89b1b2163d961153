/** Datasets as the store holds them, shaped like the bootstrap process types' outputs. */
import { IDataset, IVariable } from '../src/api';
import { ITheme } from '../src/plot/theme';
import { makeDataset } from './factories';

/** A NetCDF output of process `id`, version 1. */
export function dataset(
  id: number,
  variables: IVariable[],
  extra: Partial<IDataset> = {}
): IDataset {
  return makeDataset(id, id, {
    name: 'data.nc',
    key: `1/processes/${id}/v1/data.nc`,
    mime_type: 'application/x-netcdf',
    size: 1000,
    variables,
    ...extra
  });
}

export const signal = (id: number, units = 'mm/s'): IDataset =>
  dataset(
    id,
    [
      {
        name: 'time',
        units: 's',
        long_name: 'Time since start',
        dims: ['time']
      },
      {
        name: 'amplitude',
        units,
        long_name: 'Signal amplitude',
        dims: ['time']
      }
    ],
    { name: 'signal.nc' }
  );

export const spectrum = (id: number): IDataset =>
  dataset(
    id,
    [
      {
        name: 'frequency',
        units: 'Hz',
        long_name: 'Frequency',
        dims: ['frequency']
      },
      {
        name: 'amplitude',
        units: 'mm/s',
        long_name: 'Amplitude spectrum',
        dims: ['frequency']
      }
    ],
    { name: 'spectrum.nc' }
  );

export const survey = (id: number): IDataset =>
  dataset(
    id,
    [
      {
        name: 'latitude',
        units: 'degrees_north',
        long_name: 'Latitude',
        dims: ['station']
      },
      {
        name: 'longitude',
        units: 'degrees_east',
        long_name: 'Longitude',
        dims: ['station']
      },
      {
        name: 'gravity_anomaly',
        units: 'mGal',
        long_name: 'Vertical gravity anomaly',
        dims: ['station']
      }
    ],
    { name: 'survey.nc' }
  );

export const THEME: ITheme = {
  paper: '#fff',
  plot: '#fff',
  font: '#111',
  fontMuted: '#666',
  fontFamily: 'sans-serif',
  fontSize: 12,
  grid: '#ddd',
  border: '#bbb',
  land: '#eee',
  water: '#fff',
  light: true
};
