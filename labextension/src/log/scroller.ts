/**
 * The log's scroll area: only the rows in view are in the DOM (fixed row
 * height, scaled scroll space), and it either follows the end of the log or
 * keeps the line at its top in place while lines arrive or the filter changes.
 * Scrolling up pauses following; scrolling back to the end resumes it.
 */
import { LogBuffer } from './buffer';
import { LogFilter, highlighter } from './filter';
import { IRow, RowPainter, element, newRow } from './rows';
import {
  IMetrics,
  isAtEnd,
  maxScrollTop,
  scrollHeight,
  scrollTopFor,
  topRow,
  visibleRange
} from './viewport';

/** Row height in px; style/log.css gives rows exactly this height. */
export const ROW_HEIGHT = 18;
/** Rows rendered above and below the viewport. */
const OVERSCAN = 20;

export class LogScroller {
  /** The scrolling element. */
  readonly node = element('div', 'nf-Log-scroller');

  /**
   * @param _filter - the lines shown (of its buffer).
   * @param _followChanged - the user paused or resumed following by scrolling
   *   (or with the End key).
   * @param _changed - something to draw: call `render` in the next frame.
   */
  constructor(
    private readonly _filter: LogFilter,
    follow: boolean,
    private readonly _followChanged: (follow: boolean) => void,
    private readonly _changed: () => void
  ) {
    this._follow = follow;
    this._painter = new RowPainter(_filter.buffer);
    this.node.tabIndex = 0;
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', 'Log lines');
    this.node.addEventListener('scroll', () => this._onScroll(), {
      passive: true
    });
    this.node.addEventListener('keydown', event => {
      if (event.key === 'End') {
        event.preventDefault();
        this._followChanged(true);
      }
    });
    this.node.append(this._spacer, this._rows, this._empty);
  }

  private get _buffer(): LogBuffer {
    return this._filter.buffer;
  }

  /** Whether new lines scroll to the end. */
  get follow(): boolean {
    return this._follow;
  }

  set follow(follow: boolean) {
    if (follow !== this._follow) {
      this._follow = follow;
      this._anchor = follow ? null : this._topRow;
    }
    this._changed();
  }

  set timestamps(on: boolean) {
    this._painter.timestamps = on;
    this.node.classList.toggle('nf-mod-timestamps', on);
    this.redrawAll();
  }

  /** Content changes under a paused view: keep the line at the top where it is. */
  keepPlace(): void {
    if (!this._follow) {
      this._anchor ??= this._topRow;
    }
    this._changed();
  }

  /** Every row must be drawn again (filter, timestamps, version). */
  redrawAll(): void {
    this._stamp += 1;
    this._changed();
  }

  /** Apply a new filter query, keeping the line at the top (or the next one that matches) in place. */
  setQuery(query: string): void {
    const filter = this._filter;
    const shown = filter.length;
    const top =
      shown > 0 ? filter.at(Math.min(Math.floor(this._topRow), shown - 1)) : 0;
    filter.setQuery(query);
    this._anchor = filter.positionOf(top);
    this.redrawAll();
  }

  /** Back to the top, for another version's lines. */
  reset(): void {
    this._anchor = null;
    this._topRow = 0;
    this._expectedTop = this.node.scrollTop === 0 ? null : 0;
    this._lastTop = 0;
    this.node.scrollTop = 0;
    this.redrawAll();
  }

  /** Draw the rows in view, and `message` when there are none. */
  render(message: string): void {
    const filter = this._filter;
    const metrics: IMetrics = {
      rows: filter.length,
      rowHeight: ROW_HEIGHT,
      viewport: this.node.clientHeight
    };
    this._spacer.style.height = `${scrollHeight(metrics)}px`;
    const top = this._scrollTo(metrics);
    this._metrics = metrics;
    this._topRow = topRow(metrics, top);

    const range = visibleRange(metrics, top, OVERSCAN);
    this._rows.style.transform = `translateY(${range.offset}px)`;
    const count = range.last - range.first;
    this._poolSize(count);
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
        this._painter.fill(row, index, this._stamp, highlight);
      }
    }
    this._empty.textContent = message;
    this._empty.hidden = message === '';
  }

  /** Scroll to the end when following, or to the anchored row; returns the scroll top. */
  private _scrollTo(metrics: IMetrics): number {
    const scroller = this.node;
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
    return top;
  }

  private _poolSize(count: number): void {
    while (this._pool.length < count) {
      const row = newRow();
      this._pool.push(row);
      this._rows.append(row.node);
    }
    while (this._pool.length > count) {
      this._pool.pop()!.node.remove();
    }
  }

  private _onScroll(): void {
    const top = this.node.scrollTop;
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
    const up = top < this._lastTop;
    const down = top > this._lastTop;
    this._lastTop = top;
    if (this._follow && !atEnd && up) {
      this._followChanged(false);
    } else if (!this._follow && atEnd && down) {
      this._followChanged(true);
    }
    this._changed();
  }

  private readonly _painter: RowPainter;
  private readonly _spacer = element('div', 'nf-Log-spacer');
  private readonly _rows = element('div', 'nf-Log-rows');
  private readonly _empty = element('div', 'nf-Log-empty');
  private readonly _pool: IRow[] = [];
  private _follow: boolean;
  /** Bumped when every row must be redrawn. */
  private _stamp = 0;
  private _metrics: IMetrics = { rows: 0, rowHeight: ROW_HEIGHT, viewport: 0 };
  /** The (fractional) row at the top of the viewport as last drawn or scrolled. */
  private _topRow = 0;
  /** A row to bring back to the top on the next frame (content changed under a paused view). */
  private _anchor: number | null = null;
  private _expectedTop: number | null = null;
  private _lastTop = 0;
  private _seqWidth = 0;
}
