import { describe, expect, it } from 'vitest';
import { IBrokenType, IProcess, ITypeListing, IVersion } from '../src/api';
import { NagelfluhEvent } from '../src/events';
import { Selection } from '../src/selection';
import { ProjectStore } from '../src/store';
import { makeDataset, makeProcess, makeVersion } from './factories';
import { FakeClient, FakeEvents, clientServedBy } from './fakes';

/** The store's REST and event sides, answered from memory (copies, as over the wire); single fetches are counted. */
class Fakes {
  processes: IProcess[] = [];
  single: number[] = [];
  release: () => void = () => undefined;
  private gate = new Promise<void>(resolve => (this.release = resolve));

  rates = { cpu_hour: 0, memory_gib_hour: 0 };
  types: ITypeListing = { items: [], next: null, broken: [] };

  client = new FakeClient();
  events = new FakeEvents();

  constructor() {
    this.client.processTypes = async () => structuredClone(this.types);
    this.client.estimate = async () => ({ estimated: 0, rates: this.rates });
    this.client.processes = async () => {
      await this.gate;
      return structuredClone(this.processes);
    };
    this.client.process = async (id: number) => {
      this.single.push(id);
      const known = this.processes.find(p => p.id === id);
      return structuredClone(
        known ?? makeProcess(id, 'sleep', [makeVersion(id, 1)])
      );
    };
  }

  get listener(): ((event: NagelfluhEvent) => void) | null {
    return this.events.listener;
  }

  /** A store over these fakes, no project selected yet. */
  store(): ProjectStore {
    return new ProjectStore(this.client, this.events, new Selection(null));
  }

  /** A store with project 1 selected and its listing in. */
  async loaded(): Promise<ProjectStore> {
    const store = this.store();
    store.selection.setProject(1);
    this.release();
    await settle();
    return store;
  }
}

/** The `state` event of version 1 of `process`, as the server sends it. */
const stateEvent = (
  process: number,
  state: IVersion['state']
): NagelfluhEvent => ({
  type: 'state',
  process,
  version: 1,
  state,
  reason: null,
  message: null
});

const settle = () => new Promise(resolve => setTimeout(resolve, 0));

const FFT_BROKEN: IBrokenType = {
  name: 'fft',
  entry_point: 'fft = nagelfluh_runner.bootstrap.fft:FFT',
  environment: 'local',
  error: "ImportError: No module named 'numpy'"
};

describe('project store', () => {
  it('loads a big project with one listing, not a fetch per process the subscription replays', async () => {
    const fakes = new Fakes();
    fakes.processes = Array.from({ length: 2000 }, (_, i) =>
      makeProcess(i + 1, 'sleep', [makeVersion(i + 1, 1)])
    );
    const store = fakes.store();
    store.selection.setProject(1);
    for (const process of fakes.processes) {
      fakes.listener?.(stateEvent(process.id, 'completed'));
    }
    fakes.release();
    await settle();
    expect(store.processes).toHaveLength(2000);
    expect(fakes.single).toEqual([]);
  });

  it('fetches a process the listing missed once the listing is in', async () => {
    const fakes = new Fakes();
    fakes.processes = [makeProcess(1, 'sleep', [makeVersion(1, 1)])];
    const store = fakes.store();
    store.selection.setProject(1);
    fakes.listener?.(stateEvent(7, 'queued'));
    fakes.listener?.(stateEvent(7, 'running'));
    expect(fakes.single).toEqual([]);
    fakes.release();
    await settle();
    await settle();
    expect(fakes.single).toEqual([7]);
    expect(store.processes.map(p => p.id)).toEqual([7, 1]);
  });

  it('keeps a state heard while its process was fetched over the older answer', async () => {
    const fakes = new Fakes();
    const store = await fakes.loaded();
    // Process 5 appears queued; the answer to its fetch is read before it starts
    // running but arrives after the event saying so.
    let state: IVersion['state'] = 'queued';
    let answer: () => void = () => undefined;
    fakes.client.process = async (id: number) => {
      fakes.single.push(id);
      const read = makeProcess(id, 'sleep', [makeVersion(id, 1, { state })]);
      await new Promise<void>(resolve => (answer = resolve));
      return read;
    };
    const heard = (s: IVersion['state']) => fakes.listener?.(stateEvent(5, s));
    heard('queued');
    await settle();
    state = 'running';
    fakes.listener?.(stateEvent(5, 'running'));
    answer();
    await settle();
    await settle();
    expect(fakes.single).toEqual([5, 5]); // asked again: the answer was older
    answer();
    await settle();
    await settle();
    expect(store.processes[0].versions[0].state).toBe('running');
    expect(fakes.single).toEqual([5, 5]);
  });

  it('fetches a listed process again when a state heard while the project loaded is newer', async () => {
    const fakes = new Fakes();
    fakes.processes = [
      makeProcess(3, 'sleep', [makeVersion(3, 1, { state: 'queued' })]),
      makeProcess(4, 'sleep', [makeVersion(4, 1, { state: 'running' })])
    ];
    const listed = structuredClone(fakes.processes); // read before 3 started
    let release: () => void = () => undefined;
    fakes.client.processes = async () => {
      await new Promise<void>(resolve => (release = resolve));
      return listed;
    };
    const store = fakes.store();
    store.selection.setProject(1);
    fakes.processes[0].versions[0].state = 'running';
    for (const [process, state] of [
      [3, 'running'],
      [4, 'running']
    ] as const) {
      fakes.listener?.(stateEvent(process, state));
    }
    await settle();
    release();
    await settle();
    await settle();
    expect(fakes.single).toEqual([3]); // 4's listing agrees with what was heard
    expect(store.processes.find(p => p.id === 3)?.versions[0].state).toBe(
      'running'
    );
  });

  it('takes a batch of outputs into the dataset list, keeping only the first ones on the version', async () => {
    const fakes = new Fakes();
    fakes.processes = [
      makeProcess(4, 'sleep', [makeVersion(4, 1, { state: 'running' })])
    ];
    const store = await fakes.loaded();
    const batch = Array.from({ length: 150 }, (_, i) =>
      makeDataset(100 + i, 4)
    );
    fakes.listener?.({
      type: 'datasets',
      process: 4,
      version: 1,
      datasets: batch.slice(0, 120)
    });
    fakes.listener?.({
      type: 'datasets',
      process: 4,
      version: 1,
      datasets: batch.slice(100)
    });
    const version = store.processes[0].versions[0];
    expect(version.output_count).toBe(150);
    expect(version.outputs.map(d => d.id)).toEqual(
      batch.slice(0, 100).map(d => d.id)
    );
    expect(store.datasets).toHaveLength(150);
  });

  it('lists an upload of the active project at once, and not one finished after a switch', async () => {
    const fakes = new Fakes();
    const store = await fakes.loaded();
    store.addDataset(makeDataset(8, null, { project: 1 }));
    store.addDataset(makeDataset(9, null, { project: 2 }));
    expect(store.datasets.map(d => d.id)).toEqual([8]);
  });

  it('announces a run that ends while watched, once', async () => {
    const fakes = new Fakes();
    fakes.processes = [
      makeProcess(3, 'sleep', [makeVersion(3, 1, { state: 'running' })])
    ];
    const store = fakes.store();
    const finished: number[] = [];
    store.finished.connect((_, { version }) => finished.push(version.version));
    store.selection.setProject(1);
    fakes.release();
    await settle();
    fakes.processes[0].versions[0] = makeVersion(3, 1, { state: 'completed' });
    fakes.listener?.(stateEvent(3, 'completed'));
    fakes.listener?.(stateEvent(3, 'completed'));
    await settle();
    expect(finished).toEqual([1]);
  });

  it('keeps the types that failed to load, with their errors, apart from the types', async () => {
    const fakes = new Fakes();
    fakes.types = { items: [], next: null, broken: [FFT_BROKEN] };
    const store = fakes.store();
    await store.start();
    expect(store.brokenTypes).toEqual([FFT_BROKEN]);
    expect(store.types).toEqual([]);
    expect(store.error).toBeNull();
  });

  it('lists no broken types from a server that predates them', async () => {
    const fakes = new Fakes();
    const store = fakes.store();
    await store.start();
    expect(store.brokenTypes).toEqual([]);
  });

  it('says the server extension is not available when its routes answer Jupyter’s 404 page', async () => {
    const client = clientServedBy(
      () =>
        new Response('<html><body>404 : Not Found</body></html>', {
          status: 404,
          statusText: 'Not Found'
        })
    );
    const store = new ProjectStore(
      client,
      new Fakes().events,
      new Selection(null)
    );
    await store.start();
    expect(store.unavailable).toBe(true);
    expect(store.error).toMatch(
      /^The nagelfluh server extension is not available: its API answers 404/
    );
  });

  it('says the server extension is not available when the server cannot be reached', async () => {
    const client = clientServedBy(() => {
      throw new TypeError('Failed to fetch');
    });
    const store = new ProjectStore(
      client,
      new Fakes().events,
      new Selection(null)
    );
    await store.start();
    expect(store.unavailable).toBe(true);
    expect(store.error).toMatch(
      /^The nagelfluh server extension is not available: the server is unreachable/
    );
  });

  it('takes a 404 of the API itself for an answer, not for a missing extension', async () => {
    const body = JSON.stringify({
      error: { code: 'not_found', message: 'no such route', details: null }
    });
    const client = clientServedBy(() => new Response(body, { status: 404 }));
    const store = new ProjectStore(
      client,
      new Fakes().events,
      new Selection(null)
    );
    await store.start();
    expect(store.unavailable).toBe(false);
    expect(store.error).toBe('no such route');
  });

  it('keeps billing out of sight when every rate is zero, and shows it otherwise', async () => {
    const free = new Fakes();
    const freeStore = new ProjectStore(
      free.client,
      free.events,
      new Selection(null)
    );
    await freeStore.start();
    expect(freeStore.billing).toBe(false);
    const paid = new Fakes();
    paid.rates = { cpu_hour: 0.5, memory_gib_hour: 0 };
    const paidStore = new ProjectStore(
      paid.client,
      paid.events,
      new Selection(null)
    );
    await paidStore.start();
    expect(paidStore.billing).toBe(true);
  });
});
