/**
 * The active project, process and version: one selection shared by every view.
 *
 * Popped-out windows are separate JupyterLab pages, so the selection travels
 * between windows over a BroadcastChannel; each window applies what it hears
 * without echoing it back.
 */
import { ISignal, Signal } from '@lumino/signaling';

export interface ISelectionState {
  project: number | null;
  process: number | null;
  version: number | null;
}

const CHANNEL = 'nagelfluh-lab-selection';

export class Selection {
  constructor(channel: BroadcastChannel | null = Selection.openChannel()) {
    this._channel = channel;
    if (channel) {
      channel.onmessage = message => {
        const data = message.data;
        if (data?.kind === 'selection') {
          this._apply(data.state, false);
        } else if (data?.kind === 'hello' && this._state.project !== null) {
          channel.postMessage({ kind: 'selection', state: this._state });
        }
      };
    }
  }

  static openChannel(): BroadcastChannel | null {
    return typeof BroadcastChannel === 'undefined'
      ? null
      : new BroadcastChannel(CHANNEL);
  }

  get changed(): ISignal<this, ISelectionState> {
    return this._changed;
  }

  get state(): ISelectionState {
    return this._state;
  }

  get project(): number | null {
    return this._state.project;
  }

  get process(): number | null {
    return this._state.process;
  }

  get version(): number | null {
    return this._state.version;
  }

  /** Ask other windows for their selection (a new pop-out calls this once). */
  askOthers(): void {
    this._channel?.postMessage({ kind: 'hello' });
  }

  setProject(project: number | null): void {
    if (project !== this._state.project) {
      this._apply({ project, process: null, version: null }, true);
    }
  }

  /** Select a process (and a version; null means its latest). */
  select(process: number | null, version: number | null = null): void {
    this._apply({ ...this._state, process, version }, true);
  }

  dispose(): void {
    this._channel?.close();
    Signal.clearData(this);
  }

  private _apply(state: ISelectionState, broadcast: boolean): void {
    const same =
      state.project === this._state.project &&
      state.process === this._state.process &&
      state.version === this._state.version;
    if (same) {
      return;
    }
    this._state = { ...state };
    if (broadcast) {
      this._channel?.postMessage({ kind: 'selection', state: this._state });
    }
    this._changed.emit(this._state);
  }

  private _state: ISelectionState = {
    project: null,
    process: null,
    version: null
  };
  private _changed = new Signal<this, ISelectionState>(this);
  private _channel: BroadcastChannel | null;
}
