/**
 * The lines of a `LogBuffer` that contain a text, case-insensitively.
 *
 * The index of matching lines is kept up to date incrementally: lines that
 * arrive are tested once (`update` scans only what was appended since the last
 * call), and typing more of a query only re-tests the lines that matched the
 * shorter one. Only an unrelated query rescans the whole buffer.
 */
import { LogBuffer } from './buffer';

/**
 * A test for "contains `query`, ignoring case": a case-insensitive regex is
 * several times faster than lower-casing every line.
 */
export function matcher(query: string): (text: string) => boolean {
  const pattern = new RegExp(escapeRegExp(query), 'i');
  return text => pattern.test(text);
}

/** A global case-insensitive pattern for highlighting every occurrence of `query`. */
export function highlighter(query: string): RegExp {
  return new RegExp(escapeRegExp(query), 'gi');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class LogFilter {
  constructor(readonly buffer: LogBuffer) {}

  get query(): string {
    return this._query;
  }

  /** Whether a query narrows the lines shown. */
  get active(): boolean {
    return this._query !== '';
  }

  /** The number of lines shown: the matches, or every line without a query. */
  get length(): number {
    return this.active ? this._count : this.buffer.length;
  }

  /** The buffer index of the `k`-th line shown. */
  at(k: number): number {
    return this.active ? this._matches[k] : k;
  }

  /**
   * The position among the lines shown of the first one at or after buffer
   * index `index` (where the view keeps its place when the query changes).
   */
  positionOf(index: number): number {
    if (!this.active) {
      return Math.min(index, this.buffer.length);
    }
    let low = 0;
    let high = this._count;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this._matches[middle] < index) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    return low;
  }

  /** Show only lines containing `query` (ignoring case); '' shows every line. */
  setQuery(query: string): void {
    if (query === this._query) {
      return;
    }
    const previous = this._query;
    this._query = query;
    if (query === '') {
      this._count = 0;
      this._scanned = this.buffer.length;
      return;
    }
    this._test = matcher(query);
    if (previous !== '' && matcher(previous)(query)) {
      // The new query contains the old one: only lines that matched can match.
      this._refine();
    } else {
      this._count = 0;
      this._scanned = 0;
    }
    this.update();
  }

  /** Test the lines appended since the last call; returns how many matched. */
  update(): number {
    const end = this.buffer.length;
    if (!this.active) {
      this._scanned = end;
      return 0;
    }
    const before = this._count;
    const buffer = this.buffer;
    const test = this._test;
    for (let index = this._scanned; index < end; index++) {
      if (test(buffer.text(index))) {
        this._push(index);
      }
    }
    this._scanned = end;
    return this._count - before;
  }

  /** Forget the index (the buffer was cleared for another version). */
  reset(): void {
    this._count = 0;
    this._scanned = 0;
  }

  private _refine(): void {
    const buffer = this.buffer;
    const test = this._test;
    let kept = 0;
    for (let k = 0; k < this._count; k++) {
      const index = this._matches[k];
      if (test(buffer.text(index))) {
        this._matches[kept++] = index;
      }
    }
    this._count = kept;
  }

  private _push(index: number): void {
    if (this._count === this._matches.length) {
      const grown = new Uint32Array(Math.max(1024, this._matches.length * 2));
      grown.set(this._matches);
      this._matches = grown;
    }
    this._matches[this._count++] = index;
  }

  private _query = '';
  private _test: (text: string) => boolean = () => true;
  private _matches = new Uint32Array(0);
  private _count = 0;
  /** Buffer lines below this index have been tested against the query. */
  private _scanned = 0;
}
