/**
 * Where a version's lines come from: the stored history, fetched page by page,
 * then the events WebSocket from the last seq fetched, so no line is missed or
 * shown twice between the two; the shared `EventStream` resumes from there
 * after a dropped connection.
 */
import { IDisposable } from '@lumino/disposable';
import { ILogLine, IVersion, NagelfluhClient } from '../api';
import { EventStream, NagelfluhEvent } from '../events';
import { LogBuffer } from './buffer';

/** Lines per history request (the server's maximum). */
export const PAGE_SIZE = 10000;

export interface ILogTarget {
  process: number;
  version: number;
}

/** A version's state as its own state events tell it. */
export interface IRunState {
  state: IVersion['state'];
  reason: string | null;
}

/** What the feed tells the view. */
export interface ILogFeedHandlers {
  /** New lines; returns how many were not in the buffer yet. */
  lines(lines: readonly ILogLine[]): number;
  state(state: IRunState): void;
  /** The history could not be fetched, or the server refused the subscription. */
  error(message: string): void;
  /** The history is in; live lines follow. */
  loaded(): void;
}

export class LogFeed implements IDisposable {
  /** @param _buffer - the lines received, to resume after the last. */
  constructor(
    private readonly _client: Pick<NagelfluhClient, 'logs'>,
    private readonly _events: Pick<EventStream, 'subscribe'>,
    private readonly _buffer: LogBuffer,
    private readonly _handlers: ILogFeedHandlers
  ) {}

  get isDisposed(): boolean {
    return this._disposed;
  }

  /** Whether the history is still being fetched. */
  get loading(): boolean {
    return this._loading;
  }

  /** Stop feeding the old target; load and follow `target` (the buffer was emptied). */
  open(target: ILogTarget | null): void {
    this._close();
    this._target = target;
    this._loading = target !== null;
    if (target) {
      void this._load(target, this._generation);
    }
  }

  dispose(): void {
    this._disposed = true;
    this._close();
  }

  private _close(): void {
    this._generation += 1;
    this._subscription?.dispose();
    this._subscription = null;
  }

  /** Fetch the stored history, then follow live from its last seq. */
  private async _load(target: ILogTarget, generation: number): Promise<void> {
    try {
      for (;;) {
        const page = await this._client.logs(
          target.process,
          target.version,
          this._buffer.lastSeq,
          PAGE_SIZE
        );
        if (generation !== this._generation) {
          return;
        }
        // A short page is the end; a page adding nothing new would repeat forever.
        const added = this._handlers.lines(page.items);
        if (added === 0 || page.items.length < PAGE_SIZE) {
          break;
        }
      }
    } catch (error) {
      if (generation !== this._generation) {
        return;
      }
      // The stream replays from the last seq we have, so the log still fills.
      this._handlers.error(`history not loaded: ${(error as Error).message}`);
    }
    this._loading = false;
    this._subscription = this._events.subscribe(
      target,
      event => this._onEvent(event, generation),
      this._buffer.lastSeq
    );
    this._handlers.loaded();
  }

  private _onEvent(event: NagelfluhEvent, generation: number): void {
    if (generation !== this._generation) {
      return;
    }
    switch (event.type) {
      case 'log':
        this._handlers.lines(event.lines);
        return;
      case 'state':
        this._handlers.state({ state: event.state, reason: event.reason });
        return;
      case 'error': {
        const request = event.request as
          { subscribe?: { process?: number; version?: number } } | undefined;
        if (request?.subscribe?.process === this._target?.process) {
          this._handlers.error(event.message);
        }
        return;
      }
      default:
        return;
    }
  }

  private _target: ILogTarget | null = null;
  private _subscription: IDisposable | null = null;
  /** Bumped on every switch, so answers for an older target are dropped. */
  private _generation = 0;
  private _loading = false;
  private _disposed = false;
}
