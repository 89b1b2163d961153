/**
 * What of a project's datasets the plot and map views can show: NetCDF
 * datasets and Zarr stores (the server views both alike), their 1-D data variables along a dimension (the dimension's
 * coordinate variable is the x) and, for the map, latitude/longitude pairs.
 * Pure functions over the store's dataset metadata, so the views need no
 * request to know what to offer.
 */
import { IDataset, IProcess, IVariable } from '../api';

export const NETCDF = 'application/x-netcdf';
export const ZARR = 'application/x-zarr';

export function isNetCDF(dataset: Pick<IDataset, 'mime_type'>): boolean {
  return dataset.mime_type === NETCDF;
}

/** NetCDF or a Zarr store: arrays the server's dataset view serves. */
export function isViewable(dataset: Pick<IDataset, 'mime_type'>): boolean {
  return dataset.mime_type === NETCDF || dataset.mime_type === ZARR;
}

/** A variable whose name is its only dimension's: the x of that dimension. */
export function isCoordinate(variable: IVariable): boolean {
  return variable.dims?.length === 1 && variable.dims[0] === variable.name;
}

/** A 2-D variable: drawn as a grid (heatmap or contours), alone in its figure. */
export function isGrid(variable: Pick<IVariable, 'dims'> | undefined): boolean {
  return variable?.dims?.length === 2;
}

/** The 2-D variables of a dataset. */
export function gridVariables(
  dataset: Pick<IDataset, 'variables'>
): IVariable[] {
  return dataset.variables.filter(v => isGrid(v));
}

/** The variables a user would plot: everything 1-D but coordinate variables, then the 2-D grids. */
export function plottableVariables(
  dataset: Pick<IDataset, 'variables'>
): IVariable[] {
  return [
    ...dataset.variables.filter(v => v.dims?.length === 1 && !isCoordinate(v)),
    ...gridVariables(dataset)
  ];
}

/**
 * Whether a variable places the data rather than measures it: latitude or
 * longitude, a time, or another dimension's index (a `station` number along
 * `point`). Such a variable is offered but not plotted by default.
 */
function isPlacing(variable: IVariable, dims: Record<string, number>): boolean {
  const name = variable.name.toLowerCase();
  const units = unitOf(variable).toLowerCase();
  return (
    LATITUDE_UNITS.has(units) ||
    LONGITUDE_UNITS.has(units) ||
    LATITUDE_NAMES.has(name) ||
    LONGITUDE_NAMES.has(name) ||
    PLACING_NAMES.has(name) ||
    units.includes(' since ') ||
    Object.hasOwn(dims, variable.name)
  );
}

/**
 * What a new plot of a dataset shows: its 1-D variables that measure
 * something (a survey's anomaly, not the latitude and longitude of its
 * stations), or every 1-D variable when all of them place the data.
 */
export function defaultVariables(
  dataset: Pick<IDataset, 'variables' | 'dims'>
): IVariable[] {
  const plottable = plottableVariables(dataset).filter(v => !isGrid(v));
  const measured = plottable.filter(v => !isPlacing(v, dataset.dims));
  if (measured.length > 0) {
    return measured;
  }
  // A dataset without 1-D data (an inversion's model) shows its first grid, alone.
  const grid = gridVariables(dataset)[0];
  return grid ? [grid] : plottable;
}

export function variableOf(
  dataset: Pick<IDataset, 'variables'> | undefined,
  name: string
): IVariable | undefined {
  return dataset?.variables.find(v => v.name === name);
}

/** The dimension a 1-D variable runs along (null when it is not 1-D). */
export function dimensionOf(variable: IVariable | undefined): string | null {
  return variable?.dims?.length === 1 ? variable.dims[0] : null;
}

/** The coordinate variable of a dimension, if the dataset has one. */
export function coordinateOf(
  dataset: Pick<IDataset, 'variables'>,
  dimension: string
): IVariable | undefined {
  return dataset.variables.find(v => v.name === dimension && isCoordinate(v));
}

/** NetCDF datasets and Zarr stores with something to plot, newest first. */
export function plottableDatasets(datasets: readonly IDataset[]): IDataset[] {
  return datasets
    .filter(d => isViewable(d) && plottableVariables(d).length > 0)
    .sort((a, b) => b.id - a.id);
}

/** "s1 v2 · signal.nc": which process run made it, then its name (uploads: just the name). */
export function datasetLabel(
  dataset: IDataset,
  processes: readonly Pick<IProcess, 'id' | 'name'>[]
): string {
  const process = processes.find(p => p.id === dataset.process);
  if (!process) {
    return dataset.name;
  }
  return `${process.name} v${dataset.version} · ${dataset.name}`;
}

/** "Signal amplitude [mm/s]": what axis titles, legends and colour bars say. */
export function variableLabel(
  variable: Pick<IVariable, 'name' | 'long_name' | 'units'>
): string {
  const name = variable.long_name || variable.name;
  const units = unitOf(variable);
  return units ? `${name} [${units}]` : name;
}

/** The unit string as axes compare it: trimmed, absent for dimensionless. */
export function unitOf(variable: Pick<IVariable, 'units'> | undefined): string {
  return (variable?.units ?? '').trim();
}

/** Times and indices by name; CF times are also told by their units ("seconds since ..."). */
const PLACING_NAMES = new Set(['time', 't', 'station', 'index']);
const LATITUDE_NAMES = new Set(['lat', 'latitude']);
const LONGITUDE_NAMES = new Set(['lon', 'long', 'longitude']);
const LATITUDE_UNITS = new Set([
  'degrees_north',
  'degree_north',
  'degrees_n',
  'degree_n'
]);
const LONGITUDE_UNITS = new Set([
  'degrees_east',
  'degree_east',
  'degrees_e',
  'degree_e'
]);

export interface IGeoVariables {
  latitude: IVariable;
  longitude: IVariable;
  /** The variables along the same dimension a map can colour points by. */
  values: IVariable[];
}

/**
 * The latitude/longitude pair of a dataset, found by CF units (degrees_north,
 * degrees_east) or by name (lat/latitude, lon/longitude), both 1-D along the
 * same dimension; null when it has none.
 */
export function geoVariables(
  dataset: Pick<IDataset, 'variables'>
): IGeoVariables | null {
  const oneD = dataset.variables.filter(v => v.dims?.length === 1);
  const find = (units: Set<string>, names: Set<string>) =>
    oneD.find(v => units.has(unitOf(v).toLowerCase())) ??
    oneD.find(v => names.has(v.name.toLowerCase()));
  const latitude = find(LATITUDE_UNITS, LATITUDE_NAMES);
  const longitude = find(LONGITUDE_UNITS, LONGITUDE_NAMES);
  if (
    !latitude ||
    !longitude ||
    dimensionOf(latitude) !== dimensionOf(longitude)
  ) {
    return null;
  }
  const dim = dimensionOf(latitude);
  const values = oneD.filter(
    v =>
      v !== latitude &&
      v !== longitude &&
      dimensionOf(v) === dim &&
      !isCoordinate(v)
  );
  return { latitude, longitude, values };
}

/** NetCDF datasets and Zarr stores with latitude and longitude (points, or a lat/lon grid), newest first. */
export function mappableDatasets(datasets: readonly IDataset[]): IDataset[] {
  return datasets
    .filter(d => isViewable(d) && mapLayersOf(d) !== null)
    .sort((a, b) => b.id - a.id);
}

/** Whether a variable is a latitude (by CF units, else by name). */
function isLatitude(variable: IVariable | undefined): boolean {
  return (
    !!variable &&
    (LATITUDE_UNITS.has(unitOf(variable).toLowerCase()) ||
      LATITUDE_NAMES.has(variable.name.toLowerCase()))
  );
}

/** Whether a variable is a longitude (by CF units, else by name). */
function isLongitude(variable: IVariable | undefined): boolean {
  return (
    !!variable &&
    (LONGITUDE_UNITS.has(unitOf(variable).toLowerCase()) ||
      LONGITUDE_NAMES.has(variable.name.toLowerCase()))
  );
}

export interface IGeoGrid {
  /** The 2-D variable, e.g. density_contrast over (latitude, longitude). */
  variable: IVariable;
  latitude: IVariable;
  longitude: IVariable;
}

/**
 * The 2-D variables of a dataset that lie on a latitude × longitude grid: dims
 * (y, x) whose coordinate variables are a latitude and a longitude, in that
 * order (the server answers a grid's first dimension as its y).
 */
export function geoGrids(dataset: Pick<IDataset, 'variables'>): IGeoGrid[] {
  const grids: IGeoGrid[] = [];
  for (const variable of gridVariables(dataset)) {
    const [ydim, xdim] = variable.dims ?? [];
    const latitude = coordinateOf(dataset, ydim);
    const longitude = coordinateOf(dataset, xdim);
    if (
      latitude &&
      longitude &&
      isLatitude(latitude) &&
      isLongitude(longitude)
    ) {
      grids.push({ variable, latitude, longitude });
    }
  }
  return grids;
}

/** What the map can draw of a dataset: its lat/lon grids first (as rasters), else its points; null if nothing. */
export function mapLayersOf(
  dataset: Pick<IDataset, 'variables'>
):
  | { kind: 'grid'; grids: IGeoGrid[] }
  | { kind: 'points'; geo: IGeoVariables }
  | null {
  const grids = geoGrids(dataset);
  if (grids.length > 0) {
    return { kind: 'grid', grids };
  }
  const geo = geoVariables(dataset);
  return geo ? { kind: 'points', geo } : null;
}
