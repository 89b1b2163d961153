/**
 * The events WebSocket (DESIGN §5), shared by every view of one browser window.
 *
 * Views subscribe to a version's log or a project's states; the stream keeps the
 * last `seq` each log subscription has seen, so after a dropped connection or a
 * `resync` it re-subscribes from there and the views see no gap and no duplicate.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { IDisposable } from '@lumino/disposable';
import { ILogLine } from './api';
import type { components } from './generated/openapi';

/** The server's events, as generated from openapi.json (see api.ts). */
type Schemas = components['schemas'];

export type ILogEvent = Schemas['LogEvent'];
export type IStateEvent = Schemas['StateEvent'];
export type IProgressEvent = Schemas['ProgressEvent'];
/** Outputs of a version, registered in batches as its run ends. */
export type IDatasetsEvent = Schemas['DatasetsEvent'];
export type IErrorEvent = Schemas['ErrorEvent'];
/** A subscription fell behind: its listener should reload what it shows. */
export type IResyncEvent = Schemas['ResyncEvent'];

export type NagelfluhEvent = Schemas['ServerEvent'];

export type Target =
  { project: number } | { process: number; version?: number };

export type ConnectionStatus = 'connecting' | 'open' | 'closed';

/** What the stream does with a WebSocket (a test passes a fake). */
export interface ISocket {
  readonly readyState: number;
  onopen: ((event: Event) => void) | null;
  onmessage: ((message: MessageEvent) => void) | null;
  onclose: ((event: CloseEvent) => void) | null;
  send(data: string): void;
  close(): void;
}

/** Opens the stream's WebSocket. */
export type SocketFactory = (url: string) => ISocket;

interface ISubscription {
  target: Target;
  since: number;
  listener: (event: NagelfluhEvent) => void;
}

/** The subscription key of an event, to route it to its listeners. */
function keyOf(target: Target): string {
  return 'project' in target
    ? `project:${target.project}`
    : `version:${target.process}:${target.version ?? 'latest'}`;
}

export class EventStream implements IDisposable {
  constructor(
    private readonly url: () => string,
    private readonly options: {
      factory?: SocketFactory;
      reconnectDelay?: number;
      maxReconnectDelay?: number;
    } = {}
  ) {}

  get statusChanged(): ISignal<this, ConnectionStatus> {
    return this._statusChanged;
  }

  get status(): ConnectionStatus {
    return this._status;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Follow a target; returns a disposable that unsubscribes. */
  subscribe(
    target: Target,
    listener: (event: NagelfluhEvent) => void,
    since = 0
  ): IDisposable {
    const subscription: ISubscription = {
      target: { ...target },
      since,
      listener
    };
    this._subscriptions.add(subscription);
    this._send(this._subscribeMessage(subscription));
    this._ensure();
    const handle = {
      isDisposed: false,
      dispose: () => {
        handle.isDisposed = true;
        if (!this._subscriptions.delete(subscription)) {
          return;
        }
        const stillWanted = [...this._subscriptions].some(
          s => keyOf(s.target) === keyOf(subscription.target)
        );
        if (!stillWanted) {
          this._send({ unsubscribe: subscription.target });
        }
      }
    };
    return handle;
  }

  /** Set reconnect delays from the user's settings. */
  configure(reconnectDelay: number, maxReconnectDelay: number): void {
    this.options.reconnectDelay = reconnectDelay;
    this.options.maxReconnectDelay = maxReconnectDelay;
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    clearTimeout(this._timer);
    this._subscriptions.clear();
    this._socket?.close();
    this._socket = null;
    Signal.clearData(this);
  }

  private _subscribeMessage(subscription: ISubscription): unknown {
    return 'project' in subscription.target
      ? { subscribe: subscription.target }
      : { subscribe: subscription.target, since: subscription.since };
  }

  private _ensure(): void {
    if (this._socket || this._disposed || this._subscriptions.size === 0) {
      return;
    }
    this._setStatus('connecting');
    const factory =
      this.options.factory ?? ((url: string) => new WebSocket(url));
    const socket = factory(this.url());
    this._socket = socket;
    socket.onopen = () => {
      this._attempts = 0;
      this._setStatus('open');
      for (const subscription of this._subscriptions) {
        socket.send(JSON.stringify(this._subscribeMessage(subscription)));
      }
    };
    socket.onmessage = message => {
      let event: any;
      try {
        event = JSON.parse(String(message.data));
      } catch {
        return;
      }
      this._dispatch(event);
    };
    socket.onclose = () => {
      if (this._socket !== socket) {
        return;
      }
      this._socket = null;
      this._setStatus('closed');
      this._scheduleReconnect();
    };
  }

  private _scheduleReconnect(): void {
    if (this._disposed || this._subscriptions.size === 0) {
      return;
    }
    const base = this.options.reconnectDelay ?? 1000;
    const max = this.options.maxReconnectDelay ?? 30000;
    const delay = Math.min(max, base * 2 ** this._attempts);
    this._attempts += 1;
    this._timer = setTimeout(() => this._ensure(), delay);
  }

  private _dispatch(event: any): void {
    if (event.type === 'resync') {
      for (const subscription of this._subscriptions) {
        if (
          'project' in subscription.target &&
          subscription.target.project === event.project
        ) {
          this._send(this._subscribeMessage(subscription));
          subscription.listener(event);
          continue;
        }
        if (
          'process' in subscription.target &&
          subscription.target.process === event.process &&
          (subscription.target.version ?? event.version) === event.version
        ) {
          subscription.since = Math.max(subscription.since, event.since ?? 0);
          this._send(this._subscribeMessage(subscription));
        }
      }
      return;
    }
    for (const subscription of this._subscriptions) {
      if (!this._matches(subscription, event)) {
        continue;
      }
      if (event.type === 'log') {
        const fresh = (event.lines as ILogLine[]).filter(
          l => l.seq > subscription.since
        );
        if (fresh.length === 0) {
          continue;
        }
        subscription.since = fresh[fresh.length - 1].seq;
        subscription.listener({ ...event, lines: fresh });
      } else {
        subscription.listener(event);
      }
    }
  }

  private _matches(subscription: ISubscription, event: any): boolean {
    const target = subscription.target;
    if (event.type === 'error') {
      return true;
    }
    if ('project' in target) {
      return (
        event.type !== 'log' &&
        (event.project === undefined || event.project === target.project)
      );
    }
    if (event.process !== target.process) {
      return false;
    }
    if (target.version === undefined) {
      // "latest": adopt the version the server answered with.
      target.version = event.version;
    }
    return event.version === target.version;
  }

  private _send(message: unknown): void {
    if (this._socket && this._socket.readyState === 1) {
      this._socket.send(JSON.stringify(message));
    }
  }

  private _setStatus(status: ConnectionStatus): void {
    if (status !== this._status) {
      this._status = status;
      this._statusChanged.emit(status);
    }
  }

  private _socket: ISocket | null = null;
  private _subscriptions = new Set<ISubscription>();
  private _status: ConnectionStatus = 'closed';
  private _statusChanged = new Signal<this, ConnectionStatus>(this);
  private _attempts = 0;
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _disposed = false;
}
