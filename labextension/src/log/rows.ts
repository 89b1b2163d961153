/**
 * The log's row elements: a pool of plain DOM rows, each filled with one
 * buffer line (sequence number, time, text with the filter's matches marked).
 */
import { LogBuffer } from './buffer';

/** Characters of a line put in the DOM; the filter still sees all of it. */
const MAX_RENDERED_CHARS = 10000;

const STREAM_CLASSES: Record<string, string> = {
  stdout: 'nf-Log-stdout',
  stderr: 'nf-Log-stderr',
  system: 'nf-Log-system'
};

/** One pooled row element and the buffer line it shows. */
export interface IRow {
  node: HTMLDivElement;
  seq: HTMLSpanElement;
  time: HTMLSpanElement;
  text: HTMLSpanElement;
  index: number;
  stamp: number;
}

export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

export function newRow(): IRow {
  const node = element('div', 'nf-Log-line');
  node.dataset.testid = 'nf-log-line';
  const seq = element('span', 'nf-Log-seq');
  const time = element('span', 'nf-Log-time');
  const text = element('span', 'nf-Log-text');
  node.append(seq, time, text);
  return { node, seq, time, text, index: -1, stamp: -1 };
}

/** Fills rows with lines of a buffer. */
export class RowPainter {
  constructor(private readonly _buffer: LogBuffer) {}

  /** Whether rows show each line's time. */
  timestamps = false;

  /** Show line `index` in `row`, drawn as of `stamp`, with `highlight`'s matches marked. */
  fill(
    row: IRow,
    index: number,
    stamp: number,
    highlight: RegExp | null
  ): void {
    const buffer = this._buffer;
    const seq = String(buffer.seq(index));
    const stream = buffer.stream(index);
    row.index = index;
    row.stamp = stamp;
    row.node.className = `nf-Log-line ${STREAM_CLASSES[stream] ?? 'nf-Log-other'}`;
    row.node.dataset.seq = seq;
    row.node.dataset.stream = stream;
    row.seq.textContent = seq;
    if (this.timestamps) {
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

  private _timeKey = NaN;
  private _timeText = '';
}

/** Put `text` into `target` with every match of `pattern` in a <mark> (text nodes only, never HTML). */
export function setHighlighted(
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
