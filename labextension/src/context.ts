/**
 * What every view is handed: the API client, the shared event stream, the
 * selection, the live project store, the uploads and the user's settings.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { IStateDB } from '@jupyterlab/statedb';
import { ISignal, Signal } from '@lumino/signaling';
import { NagelfluhClient, IResources } from './api';
import { EventStream } from './events';
import { Selection } from './selection';
import { ProjectStore } from './store';
import { Uploads } from './upload';

/** The user's settings (schema/plugin.json), with their defaults. */
export interface ISettingsValues {
  defaultResources: IResources;
  reconnectDelay: number;
  maxReconnectDelay: number;
  mapTilesUrl: string;
  mapTilesAttribution: string;
  notifyOnFinish: boolean;
  followLogs: boolean;
}

export const DEFAULT_SETTINGS: ISettingsValues = {
  defaultResources: { cpu: 1, memory: '1Gi', deadline_seconds: 3600 },
  reconnectDelay: 1000,
  maxReconnectDelay: 30000,
  mapTilesUrl: '',
  mapTilesAttribution: '',
  notifyOnFinish: true,
  followLogs: true
};

export class Settings {
  get changed(): ISignal<this, ISettingsValues> {
    return this._changed;
  }

  get values(): ISettingsValues {
    return this._values;
  }

  update(values: Partial<ISettingsValues>): void {
    this._values = { ...this._values, ...values };
    this._changed.emit(this._values);
  }

  private _values: ISettingsValues = DEFAULT_SETTINGS;
  private _changed = new Signal<this, ISettingsValues>(this);
}

export interface INagelfluhContext {
  app: JupyterFrontEnd;
  client: NagelfluhClient;
  events: EventStream;
  selection: Selection;
  store: ProjectStore;
  uploads: Uploads;
  settings: Settings;
  /** Per-user state that survives reloads (flow layouts, plot choices). */
  state: IStateDB | null;
}

/** The kinds of main-area view; each can be opened, split, tabbed and popped out. */
export type ViewKind = 'flow' | 'editor' | 'log' | 'plot' | 'map';
