import { describe, expect, it } from 'vitest';
import { CHUNK_SIZE, LineInput, LogBuffer } from '../src/log/buffer';
import { LogFilter } from '../src/log/filter';

const TIME = Date.UTC(2024, 4, 1, 12) / 1000;

function lines(
  from: number,
  to: number,
  text = (seq: number) => `line ${seq}`,
  stream = 'stdout'
): LineInput[] {
  const out: LineInput[] = [];
  for (let seq = from; seq <= to; seq++) {
    out.push({ seq, time: TIME, stream, line: text(seq) });
  }
  return out;
}

function shown(filter: LogFilter): number[] {
  return Array.from({ length: filter.length }, (_, k) =>
    filter.buffer.seq(filter.at(k))
  );
}

describe('log buffer', () => {
  it('keeps every line with its seq, stream, time and text across chunk boundaries', () => {
    const buffer = new LogBuffer();
    buffer.append(lines(1, CHUNK_SIZE + 5));
    buffer.append([
      { seq: CHUNK_SIZE + 6, time: TIME, stream: 'stderr', line: 'boom' }
    ]);
    buffer.append([
      {
        seq: CHUNK_SIZE + 7,
        time: TIME,
        stream: 'system',
        line: 'Process cancelled by user'
      }
    ]);
    buffer.append([
      {
        seq: CHUNK_SIZE + 8,
        time: 1714564800.25,
        stream: 'kubelet',
        line: 'odd stream'
      }
    ]);
    expect(buffer.length).toBe(CHUNK_SIZE + 8);
    expect(buffer.lastSeq).toBe(CHUNK_SIZE + 8);
    expect(buffer.seq(CHUNK_SIZE)).toBe(CHUNK_SIZE + 1);
    expect(buffer.text(CHUNK_SIZE - 1)).toBe(`line ${CHUNK_SIZE}`);
    expect(buffer.time(0)).toBe(Date.UTC(2024, 4, 1, 12) / 1000);
    expect(buffer.stream(CHUNK_SIZE + 5)).toBe('stderr');
    expect(buffer.text(CHUNK_SIZE + 5)).toBe('boom');
    expect(buffer.stream(CHUNK_SIZE + 6)).toBe('system');
    expect(buffer.stream(CHUNK_SIZE + 7)).toBe('kubelet');
    expect(buffer.time(CHUNK_SIZE + 7)).toBe(1714564800.25);
  });

  it('never duplicates a line when a replay overlaps what it already has', () => {
    const buffer = new LogBuffer();
    expect(buffer.append(lines(1, 10))).toBe(10);
    expect(buffer.append(lines(5, 15))).toBe(5);
    expect(buffer.append(lines(1, 15))).toBe(0);
    expect(buffer.length).toBe(15);
    expect(Array.from({ length: 15 }, (_, i) => buffer.seq(i))).toEqual(
      Array.from({ length: 15 }, (_, i) => i + 1)
    );
  });

  it('starts empty again after clear', () => {
    const buffer = new LogBuffer();
    buffer.append(lines(1, 3));
    buffer.clear();
    expect(buffer.length).toBe(0);
    expect(buffer.lastSeq).toBe(0);
    buffer.append(lines(1, 2));
    expect(buffer.length).toBe(2);
  });
});

describe('log filter', () => {
  const text = (seq: number) =>
    seq % 3 === 0
      ? `Reading block ${seq}`
      : seq % 3 === 1
        ? `ERROR at ${seq}`
        : `ok ${seq}`;

  it('shows every line without a query', () => {
    const buffer = new LogBuffer();
    const filter = new LogFilter(buffer);
    buffer.append(lines(1, 5));
    filter.update();
    expect(filter.active).toBe(false);
    expect(shown(filter)).toEqual([1, 2, 3, 4, 5]);
  });

  it('matches a substring ignoring case, and regex characters literally', () => {
    const buffer = new LogBuffer();
    const filter = new LogFilter(buffer);
    buffer.append(lines(1, 9, text));
    buffer.append([
      { seq: 10, time: TIME, stream: 'stdout', line: 'cost (est.) $3.50' }
    ]);
    filter.update();
    filter.setQuery('error');
    expect(shown(filter)).toEqual([1, 4, 7]);
    filter.setQuery('(EST.) $3');
    expect(shown(filter)).toEqual([10]);
    filter.setQuery('.*');
    expect(shown(filter)).toEqual([]);
  });

  it('tests lines as they arrive without losing earlier matches', () => {
    const buffer = new LogBuffer();
    const filter = new LogFilter(buffer);
    filter.setQuery('reading');
    buffer.append(lines(1, 4, text));
    expect(filter.update()).toBe(1);
    buffer.append(lines(5, 9, text));
    expect(filter.update()).toBe(2);
    expect(shown(filter)).toEqual([3, 6, 9]);
  });

  it('narrows and widens the query with the same result as a fresh filter', () => {
    const buffer = new LogBuffer();
    buffer.append(
      lines(1, 3000, seq => `step ${seq} ${seq % 7 === 0 ? 'Warning' : 'fine'}`)
    );
    const filter = new LogFilter(buffer);
    filter.update();
    const fresh = (query: string) => {
      const other = new LogFilter(buffer);
      other.setQuery(query);
      return shown(other);
    };
    for (const query of [
      'w',
      'wa',
      'warn',
      'warning',
      'warn',
      'step 1',
      'step 12',
      '',
      'fine'
    ]) {
      filter.setQuery(query);
      expect(shown(filter)).toEqual(fresh(query));
    }
  });

  it('keeps the place: the first shown line at or after a buffer position', () => {
    const buffer = new LogBuffer();
    const filter = new LogFilter(buffer);
    buffer.append(lines(1, 9, text));
    filter.setQuery('error');
    // Matches are buffer indices 0, 3 and 6.
    expect(filter.positionOf(0)).toBe(0);
    expect(filter.positionOf(1)).toBe(1);
    expect(filter.positionOf(6)).toBe(2);
    expect(filter.positionOf(7)).toBe(3);
    filter.setQuery('');
    expect(filter.positionOf(4)).toBe(4);
  });

  it('handles a million lines appended in batches and filtered incrementally', () => {
    const buffer = new LogBuffer();
    const filter = new LogFilter(buffer);
    filter.setQuery('FOX 99');
    const total = 1_000_000;
    const batch = 5000;
    for (let from = 1; from <= total; from += batch) {
      buffer.append(
        lines(
          from,
          from + batch - 1,
          seq => `line ${seq}: the quick brown fox ${seq % 1000}`
        )
      );
      filter.update();
    }
    expect(buffer.length).toBe(total);
    expect(buffer.lastSeq).toBe(total);
    expect(buffer.text(total - 1)).toBe(`line ${total}: the quick brown fox 0`);
    // "fox 99" and "fox 990".."fox 999" in every thousand lines.
    expect(filter.length).toBe(11 * (total / 1000));
    expect(buffer.seq(filter.at(0))).toBe(99);
    filter.setQuery('fox 999');
    expect(filter.length).toBe(total / 1000);
    filter.setQuery('');
    expect(filter.length).toBe(total);
  });
});
