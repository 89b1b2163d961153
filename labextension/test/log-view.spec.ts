import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import { ILogLine, IPage, IProcess, IVersion } from '../src/api';
import { Settings } from '../src/context';
import { ConnectionStatus, NagelfluhEvent, Target } from '../src/events';
import { Selection } from '../src/selection';
import { ILogContext, LogView, PAGE_SIZE, ROW_HEIGHT } from '../src/views/log';
import { makeProcess, makeVersion } from './factories';
import { pressed, rendered } from './toolbar';

const running = (process: number, n: number): IVersion =>
  makeVersion(process, n, { state: 'running' });

function makeLines(
  from: number,
  to: number,
  stream: ILogLine['stream'] = 'stdout',
  text = (seq: number) => `line ${seq}`
): ILogLine[] {
  return Array.from({ length: to - from + 1 }, (_, i) => ({
    seq: from + i,
    time: Date.UTC(2024, 4, 1, 12) / 1000,
    stream,
    line: text(from + i)
  }));
}

/** The project store as the log view reads it: processes from memory. */
class FakeStore {
  changed = new Signal<this, void>(this);
  processes = new Map<number, IProcess>();

  constructor(private readonly _selection: Selection) {}

  processById(id: number | null): IProcess | undefined {
    return id === null ? undefined : this.processes.get(id);
  }

  get activeVersion(): IVersion | undefined {
    const process = this.processById(this._selection.process);
    return (
      process?.versions.find(v => v.version === this._selection.version) ??
      process?.versions.at(-1)
    );
  }
}

interface ISubscription {
  target: Target;
  since: number;
  listener: (event: NagelfluhEvent) => void;
  disposed: boolean;
}

/** The events WebSocket as the log view uses it: subscriptions are recorded for the test to play. */
class FakeEvents {
  status: ConnectionStatus = 'open';
  statusChanged = new Signal<this, ConnectionStatus>(this);
  subscriptions: ISubscription[] = [];

  subscribe(
    target: Target,
    listener: (event: NagelfluhEvent) => void,
    since = 0
  ): IDisposable {
    const subscription = { target, since, listener, disposed: false };
    this.subscriptions.push(subscription);
    return {
      isDisposed: false,
      dispose: () => {
        subscription.disposed = true;
      }
    };
  }
}

/** The parts of the context the log view uses, as fakes the test drives. */
class Fakes {
  selection = new Selection(null);
  settings = new Settings();
  store = new FakeStore(this.selection);
  events = new FakeEvents();
  /** Stored lines per "process:version". */
  stored = new Map<string, ILogLine[]>();
  requests: {
    process: number;
    version: number;
    since: number;
    limit: number;
  }[] = [];
  /** When set, history requests wait for this promise. */
  gate: Promise<void> | null = null;

  ctx(): ILogContext {
    return {
      client: this,
      events: this.events,
      selection: this.selection,
      store: this.store,
      settings: this.settings
    };
  }

  async logs(
    process: number,
    version: number,
    since: number,
    limit = 5000
  ): Promise<IPage<ILogLine>> {
    this.requests.push({ process, version, since, limit });
    if (this.gate) {
      await this.gate;
    }
    const all = this.stored.get(`${process}:${version}`) ?? [];
    const items = all.filter(l => l.seq > since).slice(0, limit);
    return { items, next: items.at(-1)?.seq ?? since };
  }

  addProcess(id: number, versions: IVersion[]): void {
    this.store.processes.set(
      id,
      makeProcess(id, 'sleep', versions, { name: `p${id}` })
    );
  }

  get subscriptions(): ISubscription[] {
    return this.events.subscriptions;
  }

  get live(): ISubscription[] {
    return this.subscriptions.filter(s => !s.disposed);
  }

  setStatus(status: ConnectionStatus): void {
    this.events.status = status;
    this.events.statusChanged.emit(status);
  }
}

const frame = () =>
  new Promise<void>(resolve => requestAnimationFrame(() => resolve()));

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
  await frame();
}

function q<T extends Element = HTMLElement>(view: Widget, testid: string): T {
  return view.node.querySelector(`[data-testid="${testid}"]`) as T;
}

function rows(view: Widget): HTMLElement[] {
  return [
    ...view.node.querySelectorAll<HTMLElement>('[data-testid="nf-log-line"]')
  ];
}

function scroller(view: Widget): HTMLElement {
  return view.node.querySelector('.nf-Log-scroller') as HTMLElement;
}

describe('log view', () => {
  let fakes: Fakes;
  let view: LogView;

  function open(viewportRows = 10): LogView {
    view = new LogView(fakes.ctx());
    Object.defineProperty(scroller(view), 'clientHeight', {
      value: viewportRows * ROW_HEIGHT,
      configurable: true
    });
    Widget.attach(view, document.body);
    return view;
  }

  beforeEach(() => {
    fakes = new Fakes();
  });

  afterEach(() => {
    view?.dispose();
    document.body.replaceChildren();
  });

  it('asks the user to select a process when none is selected', async () => {
    open();
    await settle();
    expect(view.node.dataset.testid).toBe('nf-log');
    expect(view.node.textContent).toContain('Select a process');
    expect(q(view, 'nf-log-status').textContent).toContain(
      'no process selected'
    );
    expect(fakes.subscriptions).toHaveLength(0);
  });

  it('loads the whole history page by page, then follows live from the last seq fetched', async () => {
    fakes.addProcess(7, [running(7, 1), running(7, 2)]);
    fakes.stored.set('7:2', makeLines(1, 2 * PAGE_SIZE + 5));
    fakes.selection.select(7);
    open();
    await settle();
    expect(fakes.requests.map(r => [r.process, r.version, r.since])).toEqual([
      [7, 2, 0],
      [7, 2, PAGE_SIZE],
      [7, 2, 2 * PAGE_SIZE]
    ]);
    expect(fakes.live).toHaveLength(1);
    expect(fakes.live[0].target).toEqual({ process: 7, version: 2 });
    expect(fakes.live[0].since).toBe(2 * PAGE_SIZE + 5);

    const last = 2 * PAGE_SIZE + 5;
    // The stream may repeat the last stored line; it must not show twice.
    fakes.live[0].listener({
      type: 'log',
      process: 7,
      version: 2,
      lines: makeLines(last, last + 3)
    });
    await settle();
    expect(view.buffer.length).toBe(last + 3);
    const status = q(view, 'nf-log-status');
    expect(status.textContent).toContain(`${last + 3} lines`);
    expect(status.dataset.lines).toBe(String(last + 3));
  });

  it('renders only the rows in view, with their seq and stream, as plain text', async () => {
    fakes.addProcess(7, [running(7, 1)]);
    fakes.stored.set('7:1', [
      ...makeLines(1, 500),
      ...makeLines(501, 501, 'stderr', () => '<b>not bold</b>'),
      ...makeLines(502, 502, 'system', () => 'Process cancelled by user')
    ]);
    fakes.selection.select(7, 1);
    open(10);
    await settle();
    const shown = rows(view);
    expect(shown.length).toBeLessThan(60);
    // Following: the end of the log is in view.
    const last = shown.at(-1)!;
    expect(last.dataset.seq).toBe('502');
    expect(last.dataset.stream).toBe('system');
    expect(last.classList).toContain('nf-Log-system');
    const stderr = shown.at(-2)!;
    expect(stderr.dataset.stream).toBe('stderr');
    expect(stderr.classList).toContain('nf-Log-stderr');
    expect(stderr.querySelector('b')).toBeNull();
    expect(stderr.textContent).toContain('<b>not bold</b>');
  });

  it('pauses following when scrolled up, and jump to end follows again', async () => {
    fakes.addProcess(7, [running(7, 1)]);
    fakes.stored.set('7:1', makeLines(1, 1000));
    fakes.selection.select(7, 1);
    open(10);
    await settle();
    const follow = await rendered(view, 'nf-log-follow');
    await pressed(follow, true);
    const scroll = scroller(view);
    expect(scroll.scrollTop).toBe(1000 * ROW_HEIGHT - 10 * ROW_HEIGHT);

    scroll.scrollTop = 100 * ROW_HEIGHT;
    scroll.dispatchEvent(new Event('scroll'));
    await settle();
    expect(view.follow).toBe(false);
    await pressed(follow, false);
    expect(rows(view).some(r => r.dataset.seq === '101')).toBe(true);

    // New lines keep the paused view where it is.
    fakes.live[0].listener({
      type: 'log',
      process: 7,
      version: 1,
      lines: makeLines(1001, 1100)
    });
    await settle();
    expect(scroll.scrollTop).toBe(100 * ROW_HEIGHT);

    (await rendered(view, 'nf-log-end')).click();
    await settle();
    expect(view.follow).toBe(true);
    expect(scroll.scrollTop).toBe(1100 * ROW_HEIGHT - 10 * ROW_HEIGHT);
    expect(rows(view).at(-1)!.dataset.seq).toBe('1100');

    follow.click();
    expect(view.follow).toBe(false);
  });

  it('starts paused when the followLogs setting is off', async () => {
    fakes.settings.update({ followLogs: false });
    fakes.addProcess(7, [running(7, 1)]);
    fakes.stored.set('7:1', makeLines(1, 1000));
    fakes.selection.select(7, 1);
    open(10);
    await settle();
    expect(view.follow).toBe(false);
    expect(rows(view)[0].dataset.seq).toBe('1');
  });

  it('filters case-insensitively, also the lines that arrive later, and counts the matches', async () => {
    fakes.addProcess(7, [running(7, 1)]);
    fakes.stored.set(
      '7:1',
      makeLines(1, 100, 'stdout', seq =>
        seq % 10 === 0 ? `WARNING ${seq}` : `ok ${seq}`
      )
    );
    fakes.selection.select(7, 1);
    open(20);
    await settle();
    const filter = q<HTMLInputElement>(view, 'nf-log-filter');
    filter.value = 'warn';
    filter.dispatchEvent(new Event('input'));
    await settle();
    expect(rows(view).map(r => r.dataset.seq)).toEqual([
      '10',
      '20',
      '30',
      '40',
      '50',
      '60',
      '70',
      '80',
      '90',
      '100'
    ]);
    expect(rows(view)[0].querySelector('mark')?.textContent).toBe('WARN');
    fakes.live[0].listener({
      type: 'log',
      process: 7,
      version: 1,
      lines: makeLines(101, 110, 'stdout', seq =>
        seq === 105 ? 'late warning' : 'ok'
      )
    });
    await settle();
    expect(rows(view).at(-1)!.dataset.seq).toBe('105');
    const status = q(view, 'nf-log-status');
    expect(status.textContent).toContain('110 lines');
    expect(status.textContent).toContain('11 matching');

    filter.value = '';
    filter.dispatchEvent(new Event('input'));
    await settle();
    expect(q(view, 'nf-log-status').textContent).not.toContain('matching');
  });

  it('switches to another version: drops the old subscription and lines, ignores late answers', async () => {
    fakes.addProcess(7, [makeVersion(7, 1), running(7, 2)]);
    fakes.stored.set('7:1', makeLines(1, 30));
    fakes.stored.set('7:2', makeLines(1, 3));
    fakes.selection.select(7, 1);
    open();
    await settle();
    const first = fakes.live[0];
    expect(first.target).toEqual({ process: 7, version: 1 });

    const picker = q<HTMLSelectElement>(view, 'nf-log-version');
    expect([...picker.options].map(o => o.textContent)).toEqual([
      'v2 · running',
      'v1 · completed'
    ]);
    expect(picker.value).toBe('1');
    picker.value = '2';
    picker.dispatchEvent(new Event('change'));
    expect(fakes.selection.version).toBe(2);
    await settle();
    expect(first.disposed).toBe(true);
    expect(fakes.live.map(s => s.target)).toEqual([{ process: 7, version: 2 }]);
    expect(view.buffer.length).toBe(3);
    // A late event for the old version changes nothing.
    first.listener({
      type: 'log',
      process: 7,
      version: 1,
      lines: makeLines(31, 40)
    });
    await settle();
    expect(view.buffer.length).toBe(3);
    expect(view.title.label).toBe('Log: p7 v2');
  });

  it('follows a selection made elsewhere (another window) and a history still loading is dropped', async () => {
    fakes.addProcess(7, [running(7, 1)]);
    fakes.addProcess(8, [running(8, 1)]);
    fakes.stored.set('7:1', makeLines(1, 5));
    fakes.stored.set('8:1', makeLines(1, 2));
    let release!: () => void;
    fakes.gate = new Promise(resolve => (release = resolve));
    fakes.selection.select(7);
    open();
    fakes.selection.select(8);
    fakes.gate = null;
    release();
    await settle();
    await settle();
    expect(fakes.live.map(s => s.target)).toEqual([{ process: 8, version: 1 }]);
    expect(view.buffer.length).toBe(2);
  });

  it('shows the version state and the connection in the status line', async () => {
    fakes.addProcess(7, [running(7, 1)]);
    fakes.stored.set('7:1', makeLines(1, 4));
    fakes.selection.select(7, 1);
    open();
    await settle();
    const status = q(view, 'nf-log-status');
    expect(status.textContent).toContain('running');
    expect(status.textContent).toContain('connected');
    fakes.setStatus('closed');
    expect(status.textContent).toContain('reconnecting');
    expect(status.dataset.connection).toBe('closed');
    fakes.store.processes.get(7)!.versions[0].state = 'completed';
    fakes.store.changed.emit();
    expect(status.dataset.state).toBe('completed');
    expect(status.textContent).toContain('completed');
  });

  it('still follows the log from the stream when the history request fails', async () => {
    fakes.addProcess(7, [running(7, 1)]);
    fakes.selection.select(7, 1);
    const ctx = fakes.ctx();
    ctx.client.logs = vi.fn(async () => {
      throw new Error('the server is unreachable');
    });
    view = new LogView(ctx);
    Widget.attach(view, document.body);
    await settle();
    expect(q(view, 'nf-log-status').textContent).toContain(
      'history not loaded'
    );
    expect(fakes.live).toHaveLength(1);
    expect(fakes.live[0].since).toBe(0);
  });

  it('shows each line’s local time when timestamps are switched on', async () => {
    fakes.addProcess(7, [running(7, 1)]);
    // The server sends Unix seconds (api.ts still types them as strings).
    const at = new Date(2024, 4, 1, 9, 5, 7, 250).getTime() / 1000;
    fakes.stored.set('7:1', [
      { seq: 1, time: at, stream: 'stdout', line: 'hello' }
    ]);
    fakes.selection.select(7, 1);
    open();
    await settle();
    const time = () => rows(view)[0].querySelector('.nf-Log-time')!.textContent;
    expect(time()).toBe('');
    const toggle = await rendered(view, 'nf-log-timestamps');
    toggle.click();
    await settle();
    await pressed(toggle, true);
    expect(time()).toMatch(/^0?9:05:07\.250$/);
  });

  it('draws at most 10,000 characters of a huge line but filters on all of it', async () => {
    fakes.addProcess(7, [running(7, 1)]);
    fakes.stored.set(
      '7:1',
      makeLines(1, 1, 'stdout', () => `${'x'.repeat(50_000)}needle`)
    );
    fakes.selection.select(7, 1);
    open();
    await settle();
    expect(
      rows(view)[0].querySelector('.nf-Log-text')!.textContent!.length
    ).toBe(10_001);
    const filter = q<HTMLInputElement>(view, 'nf-log-filter');
    filter.value = 'NEEDLE';
    filter.dispatchEvent(new Event('input'));
    await settle();
    expect(rows(view).map(r => r.dataset.seq)).toEqual(['1']);
  });

  it('unsubscribes when closed', async () => {
    fakes.addProcess(7, [running(7, 1)]);
    fakes.selection.select(7, 1);
    open();
    await settle();
    const subscription = fakes.live[0];
    view.dispose();
    expect(subscription.disposed).toBe(true);
    fakes.selection.select(7, 2);
    expect(fakes.live).toHaveLength(0);
  });
});
