import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ILogLine } from '../src/api';
import {
  ConnectionStatus,
  EventStream,
  ISocket,
  NagelfluhEvent
} from '../src/events';

/** A WebSocket the test drives: it records what the stream sends and plays the server. */
class FakeSocket implements ISocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: any[] = [];
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((message: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;

  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }

  static get last(): FakeSocket {
    return FakeSocket.all[FakeSocket.all.length - 1];
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.drop();
  }

  open(): void {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }

  receive(event: unknown): void {
    this.onmessage?.(
      new MessageEvent('message', { data: JSON.stringify(event) })
    );
  }

  /** The connection goes away (network, server restart). */
  drop(): void {
    if (this.readyState === 3) {
      return;
    }
    this.readyState = 3;
    this.onclose?.(new CloseEvent('close'));
  }
}

function lines(from: number, to: number): ILogLine[] {
  return Array.from({ length: to - from + 1 }, (_, i) => ({
    seq: from + i,
    time: 0,
    stream: 'stdout',
    line: `line ${from + i}`
  }));
}

function log(from: number, to: number, process = 7, version = 2) {
  return { type: 'log', process, version, lines: lines(from, to) };
}

function stream(): EventStream {
  return new EventStream(() => 'ws://server/nagelfluh/api/events', {
    factory: url => new FakeSocket(url),
    reconnectDelay: 100,
    maxReconnectDelay: 1000
  });
}

/** The seqs a listener received, in order. */
function seqs(events: NagelfluhEvent[]): number[] {
  return events.flatMap(e => (e.type === 'log' ? e.lines.map(l => l.seq) : []));
}

describe('events stream', () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('connects on the first subscription and subscribes from the given seq once open', () => {
    const events = stream();
    const statuses: ConnectionStatus[] = [];
    events.statusChanged.connect((_, status) => statuses.push(status));
    events.subscribe({ process: 7, version: 2 }, () => undefined, 40);
    expect(FakeSocket.all).toHaveLength(1);
    expect(FakeSocket.last.sent).toEqual([]);
    FakeSocket.last.open();
    expect(FakeSocket.last.sent).toEqual([
      { subscribe: { process: 7, version: 2 }, since: 40 }
    ]);
    expect(statuses).toEqual(['connecting', 'open']);
    expect(events.status).toBe('open');
  });

  it('delivers only lines after the seq it subscribed from', () => {
    const events = stream();
    const received: NagelfluhEvent[] = [];
    events.subscribe({ process: 7, version: 2 }, e => received.push(e), 40);
    FakeSocket.last.open();
    FakeSocket.last.receive(log(38, 42));
    FakeSocket.last.receive(log(43, 44));
    expect(seqs(received)).toEqual([41, 42, 43, 44]);
  });

  it('resumes from the last delivered seq after a dropped connection, without gaps or duplicates', () => {
    const events = stream();
    const received: NagelfluhEvent[] = [];
    const statuses: ConnectionStatus[] = [];
    events.statusChanged.connect((_, status) => statuses.push(status));
    events.subscribe({ process: 7, version: 2 }, e => received.push(e), 0);
    const first = FakeSocket.last;
    first.open();
    first.receive(log(1, 10));
    first.drop();
    expect(events.status).toBe('closed');

    vi.advanceTimersByTime(100);
    const second = FakeSocket.last;
    expect(second).not.toBe(first);
    second.open();
    expect(second.sent).toEqual([
      { subscribe: { process: 7, version: 2 }, since: 10 }
    ]);
    // A server replaying a little too much must not duplicate lines.
    second.receive(log(9, 15));
    second.receive(log(16, 20));
    expect(seqs(received)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(statuses).toEqual([
      'connecting',
      'open',
      'closed',
      'connecting',
      'open'
    ]);
  });

  it('backs off between failed reconnects and starts over once connected', () => {
    const events = stream();
    events.subscribe({ process: 7, version: 2 }, () => undefined);
    FakeSocket.last.drop();
    vi.advanceTimersByTime(100);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.last.drop();
    vi.advanceTimersByTime(199);
    expect(FakeSocket.all).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(FakeSocket.all).toHaveLength(3);
    FakeSocket.last.open();
    FakeSocket.last.drop();
    vi.advanceTimersByTime(100);
    expect(FakeSocket.all).toHaveLength(4);
  });

  it('re-subscribes from the seq a resync names, and the view sees a gapless log', () => {
    const events = stream();
    const received: NagelfluhEvent[] = [];
    events.subscribe({ process: 7, version: 2 }, e => received.push(e));
    const socket = FakeSocket.last;
    socket.open();
    socket.receive(log(1, 5));
    socket.receive({ type: 'resync', process: 7, version: 2, since: 5 });
    expect(socket.sent.at(-1)).toEqual({
      subscribe: { process: 7, version: 2 },
      since: 5
    });
    socket.receive(log(6, 8));
    expect(seqs(received)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(received.some(e => e.type === 'resync')).toBe(false);
  });

  it('tells a project subscriber to reload on a project resync and subscribes again', () => {
    const events = stream();
    const received: NagelfluhEvent[] = [];
    events.subscribe({ project: 3 }, e => received.push(e));
    const socket = FakeSocket.last;
    socket.open();
    socket.receive({ type: 'resync', project: 3 });
    expect(received).toEqual([{ type: 'resync', project: 3 }]);
    expect(socket.sent).toEqual([
      { subscribe: { project: 3 } },
      { subscribe: { project: 3 } }
    ]);
  });

  it('unsubscribes on dispose and delivers nothing more to the disposed listener', () => {
    const events = stream();
    const old: NagelfluhEvent[] = [];
    const current: NagelfluhEvent[] = [];
    const subscription = events.subscribe({ process: 7, version: 1 }, e =>
      old.push(e)
    );
    const socket = FakeSocket.last;
    socket.open();
    socket.receive(log(1, 3, 7, 1));
    subscription.dispose();
    expect(socket.sent.at(-1)).toEqual({
      unsubscribe: { process: 7, version: 1 }
    });
    events.subscribe({ process: 7, version: 2 }, e => current.push(e));
    // Lines of the old version still in flight, then the new version's.
    socket.receive(log(4, 5, 7, 1));
    socket.receive(log(1, 2, 7, 2));
    expect(seqs(old)).toEqual([1, 2, 3]);
    expect(seqs(current)).toEqual([1, 2]);
    socket.drop();
    vi.advanceTimersByTime(100);
    FakeSocket.last.open();
    expect(FakeSocket.last.sent).toEqual([
      { subscribe: { process: 7, version: 2 }, since: 2 }
    ]);
  });

  it('keeps the server subscription while another listener still follows the same version', () => {
    const events = stream();
    const a = events.subscribe({ process: 7, version: 2 }, () => undefined);
    const b: NagelfluhEvent[] = [];
    events.subscribe({ process: 7, version: 2 }, e => b.push(e));
    const socket = FakeSocket.last;
    socket.open();
    a.dispose();
    expect(socket.sent.some(m => 'unsubscribe' in m)).toBe(false);
    socket.receive(log(1, 2));
    expect(seqs(b)).toEqual([1, 2]);
  });

  it('routes log lines only to the version they belong to', () => {
    const events = stream();
    const two: NagelfluhEvent[] = [];
    const three: NagelfluhEvent[] = [];
    const project: NagelfluhEvent[] = [];
    events.subscribe({ process: 7, version: 2 }, e => two.push(e));
    events.subscribe({ process: 7, version: 3 }, e => three.push(e));
    events.subscribe({ project: 1 }, e => project.push(e));
    FakeSocket.last.open();
    FakeSocket.last.receive(log(1, 2, 7, 3));
    expect(seqs(two)).toEqual([]);
    expect(seqs(three)).toEqual([1, 2]);
    expect(project).toEqual([]);
  });

  it('stops reconnecting once disposed', () => {
    const events = stream();
    events.subscribe({ process: 7, version: 2 }, () => undefined);
    FakeSocket.last.open();
    events.dispose();
    vi.advanceTimersByTime(10_000);
    expect(FakeSocket.all).toHaveLength(1);
  });
});
