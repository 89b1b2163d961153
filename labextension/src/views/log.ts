/**
 * The log view: the live log of the active version.
 *
 * On a version change a `LogFeed` fetches the stored history page by page and
 * then follows the events WebSocket. Lines go into a chunked `LogBuffer`, a
 * `LogFilter` indexes the matches of the filter as lines arrive, and a
 * `LogScroller` puts only the rows in view in the DOM, drawn in one animation
 * frame per burst of batches. Plain DOM rather than React: a frame touches a
 * few dozen rows and nothing else.
 *
 * This widget composes the parts in src/log/ (toolbar, scroller, status line,
 * feed) and owns what ties them together: which version is shown.
 */
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Message } from '@lumino/messaging';
import { ISignal } from '@lumino/signaling';
import { PanelLayout, Widget } from '@lumino/widgets';
import { ILogLine, IVersion, NagelfluhClient } from '../api';
import { INagelfluhContext, ISettingsValues, Settings } from '../context';
import { ConnectionStatus, EventStream } from '../events';
import { LogBuffer } from '../log/buffer';
import { ILogTarget, IRunState, LogFeed } from '../log/feed';
import { LogFilter } from '../log/filter';
import { LogScroller } from '../log/scroller';
import { LogStatusLine } from '../log/status';
import { LogToolbar } from '../log/toolbar';
import { Selection } from '../selection';
import { badgeOf, stateText } from '../states';
import { ProjectStore } from '../store';

export { PAGE_SIZE } from '../log/feed';
export { ROW_HEIGHT } from '../log/scroller';

/** What the log view uses of the extension's context. */
export interface ILogContext {
  readonly client: Pick<NagelfluhClient, 'logs'>;
  readonly events: Pick<EventStream, 'subscribe' | 'status'> & {
    readonly statusChanged: ISignal<unknown, ConnectionStatus>;
  };
  readonly selection: Selection;
  readonly store: Pick<ProjectStore, 'processById' | 'activeVersion'> & {
    readonly changed: ISignal<unknown, void>;
  };
  readonly settings: Settings;
}

export function create(
  ctx: INagelfluhContext,
  args: ReadonlyPartialJSONObject
): Widget {
  return new LogView(ctx, args);
}

export class LogView extends Widget {
  constructor(
    private readonly ctx: ILogContext,
    args: ReadonlyPartialJSONObject = {}
  ) {
    super();
    this.addClass('nf-Log');
    this.node.dataset.testid = 'nf-log';
    this.title.label = 'Log';
    this.title.caption = 'Live log of the active version';

    this._toolbar = new LogToolbar({
      pickVersion: version => {
        if (this._target) {
          this.ctx.selection.select(this._target.process, version);
        }
      },
      filter: query => this._scroller.setQuery(query),
      follow: on => this._userFollow(on),
      jumpToEnd: () => {
        this._userFollow(true);
        this._scroller.node.focus();
      },
      timestamps: on => (this._scroller.timestamps = on)
    });
    this._scroller = new LogScroller(
      this._filter,
      ctx.settings.values.followLogs,
      follow => this._setFollow(follow),
      () => this._scheduleRender()
    );
    this._feed = new LogFeed(ctx.client, ctx.events, this._buffer, {
      lines: lines => this._append(lines),
      state: state => {
        this._runState = state;
        this._updateStatus();
      },
      error: message => {
        this._error = message;
        this._updateStatus();
      },
      loaded: () => this._scheduleRender()
    });
    this._toolbar.following = this._scroller.follow;

    const layout = new PanelLayout();
    layout.addWidget(this._toolbar);
    layout.addWidget(new Widget({ node: this._scroller.node }));
    layout.addWidget(new Widget({ node: this._status.node }));
    this.layout = layout;

    ctx.selection.changed.connect(this._sync, this);
    ctx.store.changed.connect(this._sync, this);
    ctx.events.statusChanged.connect(this._updateStatus, this);
    ctx.settings.changed.connect(this._onSettings, this);
    this.configure(args);
    this._sync();
  }

  /** Open on a given process (and version) when the command passes one. */
  configure(args: ReadonlyPartialJSONObject): void {
    if (typeof args.process === 'number') {
      this.ctx.selection.select(
        args.process,
        typeof args.version === 'number' ? args.version : null
      );
    }
  }

  /** Whether new lines scroll the view to the end. */
  get follow(): boolean {
    return this._scroller.follow;
  }

  /** The lines received for the version shown. */
  get buffer(): LogBuffer {
    return this._buffer;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._feed.dispose();
    cancelAnimationFrame(this._frame);
    this.ctx.selection.changed.disconnect(this._sync, this);
    this.ctx.store.changed.disconnect(this._sync, this);
    this.ctx.events.statusChanged.disconnect(this._updateStatus, this);
    this.ctx.settings.changed.disconnect(this._onSettings, this);
    super.dispose();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this._scheduleRender();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._scheduleRender();
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._scroller.keepPlace();
  }

  /** The version to show: the selected one, or the selected process's latest. */
  private _wanted(): ILogTarget | null {
    const { selection, store } = this.ctx;
    const process = selection.process;
    if (process === null) {
      return null;
    }
    if (selection.version !== null) {
      return { process, version: selection.version };
    }
    const version = store.activeVersion;
    return version && version.process === process
      ? { process, version: version.version }
      : null;
  }

  private _sync(): void {
    if (this.isDisposed) {
      return;
    }
    const wanted = this._wanted();
    const current = this._target;
    if (
      wanted?.process !== current?.process ||
      wanted?.version !== current?.version
    ) {
      this._switch(wanted);
    }
    const target = this._target;
    const process = target
      ? this.ctx.store.processById(target.process)
      : undefined;
    this.title.label = target
      ? `Log: ${process?.name ?? `process ${target.process}`} v${target.version}`
      : 'Log';
    this._updatePicker();
    this._updateStatus();
  }

  private _storeVersion(): IVersion | undefined {
    const target = this._target;
    return target
      ? this.ctx.store
          .processById(target.process)
          ?.versions.find(v => v.version === target.version)
      : undefined;
  }

  /** Drop what is shown; load and follow `target`. */
  private _switch(target: ILogTarget | null): void {
    this._target = target;
    this._buffer.clear();
    this._filter.reset();
    this._filter.update();
    this._runState = null;
    this._error = null;
    this._scroller.reset();
    this._feed.open(target);
  }

  /** Store new lines and schedule a frame; returns how many were new. */
  private _append(lines: readonly ILogLine[]): number {
    const added = this._buffer.append(lines);
    if (added > 0) {
      this._filter.update();
      this._scroller.keepPlace();
    }
    return added;
  }

  /** Follow switched by the user: the followLogs setting no longer decides. */
  private _userFollow(follow: boolean): void {
    this._followTouched = true;
    this._setFollow(follow);
  }

  private _setFollow(follow: boolean): void {
    this._scroller.follow = follow;
    this._toolbar.following = follow;
  }

  private _onSettings(_: unknown, values: ISettingsValues): void {
    if (!this._followTouched && values.followLogs !== this.follow) {
      this._setFollow(values.followLogs);
    }
  }

  private _scheduleRender(): void {
    if (this._frame === 0 && !this.isDisposed) {
      this._frame = requestAnimationFrame(() => {
        this._frame = 0;
        this._render();
      });
    }
  }

  private _render(): void {
    if (this.isDisposed || !this.isVisible) {
      return;
    }
    let message = '';
    if (this._target === null) {
      message = 'Select a process to follow its log.';
    } else if (this._buffer.length === 0) {
      message = this._feed.loading ? 'Loading the log…' : 'No log lines yet.';
    } else if (this._filter.length === 0) {
      message = `No line contains “${this._filter.query}”.`;
    }
    this._scroller.render(message);
    this._updateStatus();
  }

  private _updatePicker(): void {
    const target = this._target;
    const process = target
      ? this.ctx.store.processById(target.process)
      : undefined;
    const versions = process ? [...process.versions].reverse() : [];
    const options: [string, string][] = versions.map(v => [
      String(v.version),
      `v${v.version} · ${stateText(v)}`
    ]);
    if (target && !versions.some(v => v.version === target.version)) {
      options.unshift([String(target.version), `v${target.version}`]);
    }
    if (!target) {
      options.push(['', 'no process selected']);
    }
    this._toolbar.setVersions(options, target ? String(target.version) : '');
  }

  private _updateStatus(): void {
    if (this.isDisposed) {
      return;
    }
    // The store is patched live by the project's events; the version's own
    // state events cover a version the store has not loaded (yet).
    this._status.update({
      shown: this._target !== null,
      badge: badgeOf(this._storeVersion() ?? this._runState ?? undefined),
      lines: this._buffer.length,
      matches: this._filter.active ? this._filter.length : null,
      loading: this._feed.loading,
      connection: this.ctx.events.status,
      error: this._error
    });
  }

  private readonly _buffer = new LogBuffer();
  private readonly _filter = new LogFilter(this._buffer);
  private readonly _toolbar: LogToolbar;
  private readonly _scroller: LogScroller;
  private readonly _status = new LogStatusLine();
  private readonly _feed: LogFeed;
  private _target: ILogTarget | null = null;
  private _runState: IRunState | null = null;
  private _error: string | null = null;
  private _followTouched = false;
  private _frame = 0;
}
