/**
 * The log view: the live log of the active version.
 *
 * On a version change it fetches the stored history page by page, then
 * subscribes to the events WebSocket from the last seq fetched, so no line is
 * missed or shown twice between the two; the shared `EventStream` resumes from
 * there after a dropped connection. Lines go into a chunked `LogBuffer`, a
 * `LogFilter` indexes the matches of the filter as lines arrive, and only the
 * rows in view are in the DOM (fixed row height, scaled scroll space), drawn in
 * one animation frame per burst of batches. Plain DOM rather than React: a
 * frame touches a few dozen rows and nothing else.
 */
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { IDisposable } from '@lumino/disposable';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';
import { ILogLine, IVersion } from '../api';
import { INagelfluhContext, ISettingsValues } from '../context';
import { ConnectionStatus, NagelfluhEvent } from '../events';
import { LogBuffer } from '../log/buffer';
import { LogFilter, highlighter } from '../log/filter';
import {
  IMetrics,
  isAtEnd,
  maxScrollTop,
  scrollHeight,
  scrollTopFor,
  topRow,
  visibleRange
} from '../log/viewport';
import { badgeColor, badgeOf, badgeText, stateText } from '../states';

/** Row height in px; style/log.css gives rows exactly this height. */
export const ROW_HEIGHT = 18;
/** Rows rendered above and below the viewport. */
const OVERSCAN = 20;
/** Lines per history request (the server's maximum). */
export const PAGE_SIZE = 10000;
/** Characters of a line put in the DOM; the filter still sees all of it. */
const MAX_RENDERED_CHARS = 10000;

const STREAM_CLASSES: Record<string, string> = {
  stdout: 'nf-Log-stdout',
  stderr: 'nf-Log-stderr',
  system: 'nf-Log-system'
};

const CONNECTION_TEXT: Record<ConnectionStatus, string> = {
  open: 'connected',
  connecting: 'connecting…',
  closed: 'disconnected, reconnecting…'
};

interface ITarget {
  process: number;
  version: number;
}

interface IRunState {
  state: IVersion['state'];
  reason: string | null;
}

/** One pooled row element and the buffer line it shows. */
interface IRow {
  node: HTMLDivElement;
  seq: HTMLSpanElement;
  time: HTMLSpanElement;
  text: HTMLSpanElement;
  index: number;
  stamp: number;
}

export function create(
  ctx: INagelfluhContext,
  args: ReadonlyPartialJSONObject
): Widget {
  return new LogView(ctx, args);
}

export class LogView extends Widget {
  constructor(
    private readonly ctx: INagelfluhContext,
    args: ReadonlyPartialJSONObject = {}
  ) {
    super();
    this.addClass('nf-Log');
    this.node.dataset.testid = 'nf-log';
    this.title.label = 'Log';
    this.title.caption = 'Live log of the active version';
    this._follow = ctx.settings.values.followLogs;

    const toolbar = element('div', 'nf-Log-toolbar');
    toolbar.setAttribute('role', 'toolbar');
    toolbar.setAttribute('aria-label', 'Log controls');

    this._versionSelect = element('select', 'nf-Select nf-Log-version');
    this._versionSelect.dataset.testid = 'nf-log-version';
    this._versionSelect.setAttribute('aria-label', 'Version');
    this._versionSelect.addEventListener('change', () => this._onPickVersion());

    this._filterInput = element('input', 'nf-Log-filter');
    this._filterInput.type = 'search';
    this._filterInput.placeholder = 'Filter lines';
    this._filterInput.dataset.testid = 'nf-log-filter';
    this._filterInput.setAttribute(
      'aria-label',
      'Filter lines (case-insensitive)'
    );
    this._filterInput.addEventListener('input', () => this._onFilterInput());

    this._followButton = button(
      'Follow',
      'nf-log-follow',
      'Follow new lines (scrolling up pauses, scrolling to the end resumes)'
    );
    this._followButton.addEventListener('click', () => {
      this._followTouched = true;
      this._setFollow(!this._follow);
    });
    this._endButton = button(
      'Jump to end',
      'nf-log-end',
      'Jump to the last line and follow'
    );
    this._endButton.addEventListener('click', () => {
      this._followTouched = true;
      this._setFollow(true);
      this._scroller.focus();
    });
    this._timeButton = button(
      'Timestamps',
      'nf-log-timestamps',
      'Show the time of each line'
    );
    this._timeButton.addEventListener('click', () => {
      this._timestamps = !this._timestamps;
      this.toggleClass('nf-mod-timestamps', this._timestamps);
      this._timeButton.setAttribute('aria-pressed', String(this._timestamps));
      this._stamp += 1;
      this._scheduleRender();
    });
    this._timeButton.setAttribute('aria-pressed', 'false');
    toolbar.append(
      this._versionSelect,
      this._filterInput,
      this._followButton,
      this._endButton,
      this._timeButton
    );

    this._scroller = element('div', 'nf-Log-scroller');
    this._scroller.tabIndex = 0;
    this._scroller.setAttribute('role', 'region');
    this._scroller.setAttribute('aria-label', 'Log lines');
    this._scroller.addEventListener('scroll', () => this._onScroll(), {
      passive: true
    });
    this._scroller.addEventListener('keydown', event => {
      if (event.key === 'End') {
        event.preventDefault();
        this._setFollow(true);
      }
    });
    this._spacer = element('div', 'nf-Log-spacer');
    this._rows = element('div', 'nf-Log-rows');
    this._empty = element('div', 'nf-Log-empty');
    this._scroller.append(this._spacer, this._rows, this._empty);

    this._status = element('div', 'nf-Log-status');
    this._status.dataset.testid = 'nf-log-status';
    this._stateBadge = element('span', 'nf-Badge nf-Log-state');
    this._statusText = element('span', 'nf-Log-statusText');
    this._status.append(this._stateBadge, this._statusText);

    this.node.append(toolbar, this._scroller, this._status);
    this._updateFollowButton();

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
    return this._follow;
  }

  /** The lines received for the version shown. */
  get buffer(): LogBuffer {
    return this._buffer;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._generation += 1;
    this._subscription?.dispose();
    this._subscription = null;
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
    if (!this._follow) {
      this._anchor ??= this._topRow;
    }
    this._scheduleRender();
  }

  /** The version to show: the selected one, or the selected process's latest. */
  private _wanted(): ITarget | null {
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

  /** Drop what is shown and the old subscription; load and follow `target`. */
  private _switch(target: ITarget | null): void {
    this._generation += 1;
    this._subscription?.dispose();
    this._subscription = null;
    this._target = target;
    this._buffer.clear();
    this._filter.reset();
    this._filter.update();
    this._runState = null;
    this._error = null;
    this._loading = target !== null;
    this._anchor = null;
    this._topRow = 0;
    this._stamp += 1;
    this._expectedTop = this._scroller.scrollTop === 0 ? null : 0;
    this._lastTop = 0;
    this._scroller.scrollTop = 0;
    this._scheduleRender();
    if (target) {
      void this._load(target, this._generation);
    }
  }

  /** Fetch the stored history, then follow live from its last seq. */
  private async _load(target: ITarget, generation: number): Promise<void> {
    try {
      for (;;) {
        const page = await this.ctx.client.logs(
          target.process,
          target.version,
          this._buffer.lastSeq,
          PAGE_SIZE
        );
        if (generation !== this._generation) {
          return;
        }
        // A short page is the end; a page adding nothing new would repeat forever.
        if (this._append(page.items) === 0 || page.items.length < PAGE_SIZE) {
          break;
        }
      }
    } catch (error) {
      if (generation !== this._generation) {
        return;
      }
      // The stream replays from the last seq we have, so the log still fills.
      this._error = `history not loaded: ${(error as Error).message}`;
    }
    this._loading = false;
    this._subscription = this.ctx.events.subscribe(
      target,
      event => this._onEvent(event, generation),
      this._buffer.lastSeq
    );
    this._scheduleRender();
  }

  private _onEvent(event: NagelfluhEvent, generation: number): void {
    if (generation !== this._generation) {
      return;
    }
    switch (event.type) {
      case 'log':
        this._append(event.lines);
        return;
      case 'state':
        this._runState = { state: event.state, reason: event.reason };
        this._updateStatus();
        return;
      case 'error': {
        const request = event.request as
          { subscribe?: { process?: number; version?: number } } | undefined;
        const target = this._target;
        if (target && request?.subscribe?.process === target.process) {
          this._error = event.message;
          this._updateStatus();
        }
        return;
      }
      default:
        return;
    }
  }

  /** Store new lines and schedule a frame; returns how many were new. */
  private _append(lines: readonly ILogLine[]): number {
    const added = this._buffer.append(lines);
    if (added > 0) {
      this._filter.update();
      if (!this._follow) {
        this._anchor ??= this._topRow;
      }
      this._scheduleRender();
    }
    return added;
  }

  private _onFilterInput(): void {
    // Keep the line at the top (or the next one that matches) in place.
    const shown = this._filter.length;
    const top =
      shown > 0
        ? this._filter.at(Math.min(Math.floor(this._topRow), shown - 1))
        : 0;
    this._filter.setQuery(this._filterInput.value);
    this._anchor = this._filter.positionOf(top);
    this._stamp += 1;
    this._scheduleRender();
  }

  private _onPickVersion(): void {
    const target = this._target;
    const version = Number(this._versionSelect.value);
    if (target && Number.isInteger(version)) {
      this.ctx.selection.select(target.process, version);
    }
  }

  private _onSettings(_: unknown, values: ISettingsValues): void {
    if (!this._followTouched && values.followLogs !== this._follow) {
      this._setFollow(values.followLogs);
    }
  }

  private _onScroll(): void {
    const top = this._scroller.scrollTop;
    if (this._expectedTop !== null && Math.abs(top - this._expectedTop) < 1) {
      // The echo of a scroll this view made.
      this._expectedTop = null;
      return;
    }
    this._expectedTop = null;
    const metrics = this._metrics;
    this._topRow = topRow(metrics, top);
    this._anchor = null;
    const atEnd = isAtEnd(metrics, top);
    if (this._follow && !atEnd && top < this._lastTop) {
      this._setFollow(false);
    } else if (!this._follow && atEnd && top > this._lastTop) {
      this._setFollow(true);
    }
    this._lastTop = top;
    this._scheduleRender();
  }

  private _setFollow(follow: boolean): void {
    if (follow === this._follow) {
      if (follow) {
        this._scheduleRender();
      }
      return;
    }
    this._follow = follow;
    this._anchor = follow ? null : this._topRow;
    this._updateFollowButton();
    this._scheduleRender();
  }

  private _updateFollowButton(): void {
    this._followButton.setAttribute('aria-pressed', String(this._follow));
    this._endButton.disabled = this._follow;
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
    const filter = this._filter;
    const scroller = this._scroller;
    const metrics: IMetrics = {
      rows: filter.length,
      rowHeight: ROW_HEIGHT,
      viewport: scroller.clientHeight
    };
    this._spacer.style.height = `${scrollHeight(metrics)}px`;
    let top = scroller.scrollTop;
    const wanted = this._follow
      ? maxScrollTop(metrics)
      : this._anchor !== null
        ? scrollTopFor(metrics, this._anchor)
        : top;
    this._anchor = null;
    if (Math.abs(wanted - top) >= 1) {
      scroller.scrollTop = wanted;
      top = scroller.scrollTop;
      this._expectedTop = top;
    }
    this._lastTop = top;
    this._metrics = metrics;
    this._topRow = topRow(metrics, top);

    const range = visibleRange(metrics, top, OVERSCAN);
    this._rows.style.transform = `translateY(${range.offset}px)`;
    const count = range.last - range.first;
    while (this._pool.length < count) {
      const row = newRow();
      this._pool.push(row);
      this._rows.append(row.node);
    }
    while (this._pool.length > count) {
      this._pool.pop()!.node.remove();
    }
    const seqWidth = String(this._buffer.lastSeq).length;
    if (seqWidth !== this._seqWidth) {
      this._seqWidth = seqWidth;
      this.node.style.setProperty('--nf-log-seq-width', `${seqWidth}ch`);
    }
    const highlight = filter.active ? highlighter(filter.query) : null;
    for (let k = 0; k < count; k++) {
      const index = filter.at(range.first + k);
      const row = this._pool[k];
      if (row.index !== index || row.stamp !== this._stamp) {
        this._fill(row, index, highlight);
      }
    }
    this._updateEmpty();
    this._updateStatus();
  }

  private _fill(row: IRow, index: number, highlight: RegExp | null): void {
    const buffer = this._buffer;
    const seq = String(buffer.seq(index));
    const stream = buffer.stream(index);
    row.index = index;
    row.stamp = this._stamp;
    row.node.className = `nf-Log-line ${STREAM_CLASSES[stream] ?? 'nf-Log-other'}`;
    row.node.dataset.seq = seq;
    row.node.dataset.stream = stream;
    row.seq.textContent = seq;
    if (this._timestamps) {
      const time = buffer.time(index);
      row.time.textContent = this._formatTime(time);
      row.time.title = Number.isNaN(time)
        ? ''
        : new Date(time * 1000).toISOString();
    } else if (row.time.textContent) {
      row.time.textContent = '';
      row.time.title = '';
    }
    let text = buffer.text(index);
    if (text.length > MAX_RENDERED_CHARS) {
      text = `${text.slice(0, MAX_RENDERED_CHARS)}…`;
    }
    if (highlight) {
      setHighlighted(row.text, text, highlight);
    } else {
      row.text.textContent = text;
    }
  }

  /** Local wall-clock time with milliseconds (lines of a batch share a time: the last is cached). */
  private _formatTime(time: number): string {
    if (time !== this._timeKey) {
      const date = new Date(time * 1000);
      this._timeKey = time;
      const milliseconds = String(date.getMilliseconds()).padStart(3, '0');
      this._timeText = Number.isNaN(date.getTime())
        ? ''
        : `${date.toLocaleTimeString(undefined, { hour12: false })}.${milliseconds}`;
    }
    return this._timeText;
  }

  private _updateEmpty(): void {
    let message = '';
    if (this._target === null) {
      message = 'Select a process to follow its log.';
    } else if (this._buffer.length === 0) {
      message = this._loading ? 'Loading the log…' : 'No log lines yet.';
    } else if (this._filter.length === 0) {
      message = `No line contains “${this._filter.query}”.`;
    }
    this._empty.textContent = message;
    this._empty.hidden = message === '';
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
    const signature = JSON.stringify(options);
    if (signature !== this._pickerSignature) {
      this._pickerSignature = signature;
      this._versionSelect.replaceChildren(
        ...options.map(([value, label]) => {
          const option = document.createElement('option');
          option.value = value;
          option.textContent = label;
          return option;
        })
      );
    }
    this._versionSelect.value = target ? String(target.version) : '';
    this._versionSelect.disabled = !target;
  }

  private _updateStatus(): void {
    if (this.isDisposed) {
      return;
    }
    const target = this._target;
    const lines = this._buffer.length;
    const status = this._status;
    const connection = this.ctx.events.status;
    // The store is patched live by the project's events; the version's own
    // state events cover a version the store has not loaded (yet).
    const badge = badgeOf(this._storeVersion() ?? this._runState ?? undefined);
    const parts: string[] = [];
    if (target) {
      parts.push(`${lines} ${lines === 1 ? 'line' : 'lines'}`);
      if (this._filter.active) {
        parts.push(`${this._filter.length} matching`);
      }
      parts.push(
        this._loading ? 'loading history…' : CONNECTION_TEXT[connection]
      );
      if (this._error) {
        parts.push(this._error);
      }
    } else {
      parts.push('no process selected');
    }
    const text = parts.join(' · ');
    if (text !== this._statusText.textContent) {
      this._statusText.textContent = text;
    }
    this._stateBadge.hidden = badge === 'none';
    if (this._stateBadge.dataset.badge !== badge) {
      this._stateBadge.dataset.badge = badge;
      this._stateBadge.textContent = badgeText(badge);
      this._stateBadge.style.background = badgeColor(badge);
    }
    status.dataset.lines = String(lines);
    status.dataset.matches = String(this._filter.length);
    status.dataset.connection = connection;
    status.dataset.state = badge;
    status.classList.toggle('nf-mod-error', this._error !== null);
  }

  private _buffer = new LogBuffer();
  private _filter = new LogFilter(this._buffer);
  private _target: ITarget | null = null;
  private _subscription: IDisposable | null = null;
  /** Bumped on every version switch, so answers for an older one are dropped. */
  private _generation = 0;
  private _runState: IRunState | null = null;
  private _loading = false;
  private _error: string | null = null;
  private _follow: boolean;
  private _followTouched = false;
  private _timestamps = false;
  /** Bumped when every row must be redrawn (filter, timestamps, version). */
  private _stamp = 0;
  private _frame = 0;
  private _metrics: IMetrics = { rows: 0, rowHeight: ROW_HEIGHT, viewport: 0 };
  /** The (fractional) row at the top of the viewport as last drawn or scrolled. */
  private _topRow = 0;
  /** A row to bring back to the top on the next frame (content changed under a paused view). */
  private _anchor: number | null = null;
  private _expectedTop: number | null = null;
  private _lastTop = 0;
  private _seqWidth = 0;
  private _timeKey = NaN;
  private _timeText = '';
  private _pickerSignature = '';
  private _pool: IRow[] = [];
  private readonly _versionSelect: HTMLSelectElement;
  private readonly _filterInput: HTMLInputElement;
  private readonly _followButton: HTMLButtonElement;
  private readonly _endButton: HTMLButtonElement;
  private readonly _timeButton: HTMLButtonElement;
  private readonly _scroller: HTMLDivElement;
  private readonly _spacer: HTMLDivElement;
  private readonly _rows: HTMLDivElement;
  private readonly _empty: HTMLDivElement;
  private readonly _status: HTMLDivElement;
  private readonly _stateBadge: HTMLSpanElement;
  private readonly _statusText: HTMLSpanElement;
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

function button(
  label: string,
  testid: string,
  title: string
): HTMLButtonElement {
  const node = element('button', 'jp-Button nf-Button');
  node.type = 'button';
  node.textContent = label;
  node.title = title;
  node.dataset.testid = testid;
  return node;
}

function newRow(): IRow {
  const node = element('div', 'nf-Log-line');
  node.dataset.testid = 'nf-log-line';
  const seq = element('span', 'nf-Log-seq');
  const time = element('span', 'nf-Log-time');
  const text = element('span', 'nf-Log-text');
  node.append(seq, time, text);
  return { node, seq, time, text, index: -1, stamp: -1 };
}

/** Put `text` into `target` with every match of `pattern` in a <mark> (text nodes only, never HTML). */
function setHighlighted(
  target: HTMLElement,
  text: string,
  pattern: RegExp
): void {
  const parts: Node[] = [];
  let last = 0;
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    if (match[0].length === 0) {
      break;
    }
    if (match.index > last) {
      parts.push(document.createTextNode(text.slice(last, match.index)));
    }
    const mark = document.createElement('mark');
    mark.textContent = match[0];
    parts.push(mark);
    last = match.index + match[0].length;
  }
  if (last < text.length) {
    parts.push(document.createTextNode(text.slice(last)));
  }
  target.replaceChildren(...parts);
}
