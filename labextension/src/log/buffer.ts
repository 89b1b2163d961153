/**
 * The log view's line store.
 *
 * A run may log millions of lines, so lines live in fixed-size chunks of
 * parallel arrays (typed arrays for seq and stream) rather than one object per
 * line or one growing array: appending never copies what is stored, and the
 * memory held is the text plus a few bytes a line (times are stored as
 * numbers, not strings).
 */
import { ILogLine } from '../api';

/** A line to store: the API's, or one of a stream the API does not name yet. */
export type LineInput = Omit<ILogLine, 'stream'> & { stream: string };

const CHUNK_BITS = 14;
/** Lines per chunk. */
export const CHUNK_SIZE = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_SIZE - 1;

/** The streams known in advance; others get codes as they appear. */
const KNOWN_STREAMS = ['stdout', 'stderr', 'system'];

interface IChunk {
  seq: Float64Array;
  stream: Uint8Array;
  /** Unix time in seconds. */
  time: Float64Array;
  text: string[];
}

function newChunk(): IChunk {
  return {
    seq: new Float64Array(CHUNK_SIZE),
    stream: new Uint8Array(CHUNK_SIZE),
    time: new Float64Array(CHUNK_SIZE),
    text: []
  };
}

export class LogBuffer {
  /** Number of lines stored. */
  get length(): number {
    return this._length;
  }

  /** The seq of the last line stored, 0 when empty: where a resumed stream starts. */
  get lastSeq(): number {
    return this._lastSeq;
  }

  /**
   * Append lines in seq order. Lines at or below the last seq stored are
   * skipped, so a replay overlapping what is stored never duplicates a line.
   * Returns how many lines were added.
   */
  append(lines: readonly LineInput[]): number {
    let added = 0;
    for (const line of lines) {
      if (line.seq <= this._lastSeq) {
        continue;
      }
      const offset = this._length & CHUNK_MASK;
      if (offset === 0) {
        this._chunks.push(newChunk());
      }
      const chunk = this._chunks[this._chunks.length - 1];
      chunk.seq[offset] = line.seq;
      chunk.stream[offset] = this._streamCode(line.stream);
      chunk.time[offset] = line.time;
      chunk.text.push(line.line);
      this._lastSeq = line.seq;
      this._length += 1;
      added += 1;
    }
    return added;
  }

  seq(index: number): number {
    return this._chunks[index >> CHUNK_BITS].seq[index & CHUNK_MASK];
  }

  text(index: number): string {
    return this._chunks[index >> CHUNK_BITS].text[index & CHUNK_MASK];
  }

  /** Unix time of the line in seconds (NaN if the server sent none). */
  time(index: number): number {
    return this._chunks[index >> CHUNK_BITS].time[index & CHUNK_MASK];
  }

  stream(index: number): string {
    return this._streams[
      this._chunks[index >> CHUNK_BITS].stream[index & CHUNK_MASK]
    ];
  }

  clear(): void {
    this._chunks = [];
    this._length = 0;
    this._lastSeq = 0;
  }

  private _streamCode(stream: string): number {
    let code = this._streamCodes.get(stream);
    if (code === undefined) {
      // Past 255 distinct names (never in practice) the rest share the last code.
      code = Math.min(this._streams.length, 255);
      if (code === this._streams.length) {
        this._streams.push(stream);
      }
      this._streamCodes.set(stream, code);
    }
    return code;
  }

  private _chunks: IChunk[] = [];
  private _length = 0;
  private _lastSeq = 0;
  private _streams: string[] = [...KNOWN_STREAMS];
  private _streamCodes = new Map<string, number>(
    KNOWN_STREAMS.map((name, code) => [name, code])
  );
}
