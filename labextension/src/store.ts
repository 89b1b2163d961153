/**
 * What the views show of the active project, kept live.
 *
 * One load over REST when the project changes, then the project's events
 * (state, progress, dataset) patch it in place; a process the store has not
 * seen yet (made by a notebook, another window) is fetched when its first event
 * arrives. Views listen to `changed` and redraw.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { IDisposable } from '@lumino/disposable';
import {
  IAccount,
  IBrokenType,
  IDataset,
  INLINE_OUTPUTS,
  NagelfluhClient,
  IProcess,
  IProcessType,
  IProject,
  State,
  IVersion,
  missingApi
} from './api';
import { EventStream, NagelfluhEvent } from './events';
import { Selection } from './selection';

export interface IFinished {
  process: IProcess;
  version: IVersion;
}

export const TERMINAL: ReadonlySet<State> = new Set<State>([
  'completed',
  'failed'
]);

/** The requests the store makes (and the uploads, through `store.client`). */
export type StoreClient = Pick<
  NagelfluhClient,
  | 'projects'
  | 'processTypes'
  | 'estimate'
  | 'processes'
  | 'datasets'
  | 'account'
  | 'process'
  | 'createProject'
  | 'upload'
  | 'retireType'
>;

export class ProjectStore implements IDisposable {
  constructor(
    readonly client: StoreClient,
    readonly events: Pick<EventStream, 'subscribe'>,
    readonly selection: Selection
  ) {
    selection.changed.connect(this._onSelection, this);
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** A version reached completed or failed while this window watched. */
  get finished(): ISignal<this, IFinished> {
    return this._finished;
  }

  get isDisposed(): boolean {
    return this._disposed;
  }

  get projects(): IProject[] {
    return this._projects;
  }

  get types(): IProcessType[] {
    return this._types;
  }

  /** Types whose code failed to load, with the error: shown where a type is picked. */
  get brokenTypes(): IBrokenType[] {
    return this._brokenTypes;
  }

  /** Whether runs cost anything: with zero rates billing stays out of sight (DESIGN §2). */
  get billing(): boolean {
    return this._billing;
  }

  get account(): IAccount | null {
    return this._account;
  }

  get datasets(): IDataset[] {
    return [...this._datasets.values()];
  }

  /** Processes of the active project, newest first. */
  get processes(): IProcess[] {
    return [...this._processes.values()].sort((a, b) => b.id - a.id);
  }

  get loading(): boolean {
    return this._loading;
  }

  get error(): string | null {
    return this._error;
  }

  /** The server extension is not there at all (`error` says so): no data to show, not an empty project. */
  get unavailable(): boolean {
    return this._unavailable;
  }

  processById(id: number | null): IProcess | undefined {
    return id === null ? undefined : this._processes.get(id);
  }

  dataset(id: number): IDataset | undefined {
    return this._datasets.get(id);
  }

  /** The selected process's selected version (its latest when none is chosen). */
  get activeVersion(): IVersion | undefined {
    const process = this.processById(this.selection.process);
    if (!process || process.versions.length === 0) {
      return undefined;
    }
    const wanted = this.selection.version;
    return (
      process.versions.find(v => v.version === wanted) ??
      process.versions[process.versions.length - 1]
    );
  }

  /** Load projects and the installation's types (a project's own come with it); choose the first project if none is active. */
  async start(): Promise<void> {
    try {
      const [projects, types, estimate] = await Promise.all([
        this.client.projects(),
        this.client.processTypes(),
        this.client.estimate({ cpu: 1, memory: '1Gi', deadline_seconds: 3600 })
      ]);
      this._projects = projects.items;
      this._types = types.items;
      this._brokenTypes = types.broken ?? [];
      this._billing = Object.values(estimate.rates).some(rate => rate > 0);
      this._succeeded();
    } catch (error) {
      this._failed(error);
    }
    if (this.selection.project === null && this._projects.length > 0) {
      this.selection.setProject(this._projects[0].id);
    } else if (this.selection.project !== null) {
      await this.reload();
    }
    this._changed.emit();
  }

  async createProject(name: string): Promise<IProject> {
    const project = await this.client.createProject(name);
    this._projects = [
      ...this._projects.filter(p => p.id !== project.id),
      project
    ];
    this.selection.setProject(project.id);
    return project;
  }

  /** Fetch the active project's processes, datasets, process types and the account afresh. */
  async reload(): Promise<void> {
    const project = this.selection.project;
    if (project === null) {
      return;
    }
    this._loading = true;
    this._changed.emit();
    try {
      const [processes, datasets, types] = await Promise.all([
        this.client.processes(project),
        this.client.datasets(project),
        this.client.processTypes(project)
      ]);
      if (project !== this.selection.project) {
        return;
      }
      this._processes = new Map(processes.map(p => [p.id, p]));
      this._datasets = new Map(datasets.map(d => [d.id, d]));
      this._types = types.items;
      this._brokenTypes = types.broken ?? [];
      this._succeeded();
    } catch (error) {
      this._failed(error);
    } finally {
      this._loading = false;
    }
    const unseen = [...this._unseen].filter(id => !this._processes.has(id));
    this._unseen.clear();
    for (const id of unseen) {
      this._heard.delete(id); // fetched now, after what was heard of it
      void this._fetch(id);
    }
    for (const id of [...this._heard.keys()]) {
      this._reconcile(id);
    }
    await this.refreshAccount();
    this._changed.emit();
  }

  async refreshAccount(): Promise<void> {
    try {
      this._account = await this.client.account();
    } catch {
      this._account = null;
    }
  }

  /** Put a process the caller just created or changed into the store. */
  upsert(process: IProcess): void {
    this._processes.set(process.id, process);
    for (const version of process.versions) {
      for (const dataset of version.outputs) {
        this._datasets.set(dataset.id, dataset);
      }
    }
    this._changed.emit();
  }

  /**
   * Put a type this window just registered into the list (replacing the
   * project's type of that name), so pickers offer it at once; a type of
   * another project is not usable here.
   */
  addType(type: IProcessType): void {
    if (type.project !== null && type.project !== this.selection.project) {
      return;
    }
    this._types = [...this._types.filter(t => t.name !== type.name), type];
    this._changed.emit();
  }

  /**
   * Retire the active project's own type `name` and take it out of the list,
   * as the server's listing no longer has it; a refusal rejects, the list kept.
   */
  async retireType(name: string): Promise<IProcessType> {
    const project = this.selection.project;
    if (project === null) {
      throw new Error('no project is open');
    }
    const retired = await this.client.retireType(name, project);
    // Another project opened meanwhile has its own list, perhaps with a type of that name.
    if (project === this.selection.project) {
      this._types = this._types.filter(
        t => t.name !== name || t.project !== project
      );
      this._changed.emit();
    }
    return retired;
  }

  /** Put a dataset this window just uploaded into the list: no event announces uploads. */
  addDataset(dataset: IDataset): void {
    if (dataset.project !== this.selection.project) {
      return;
    }
    this._datasets.set(dataset.id, dataset);
    this._changed.emit();
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._subscription?.dispose();
    Signal.clearData(this);
  }

  private _succeeded(): void {
    this._error = null;
    this._unavailable = false;
  }

  private _failed(error: unknown): void {
    const missing = missingApi(error);
    this._unavailable = missing !== null;
    this._error =
      missing === null
        ? String((error as Error).message ?? error)
        : `The nagelfluh server extension is not available: ${missing}`;
  }

  private _onSelection(_: Selection, state: { project: number | null }): void {
    if (state.project === this._project) {
      this._changed.emit();
      return;
    }
    this._project = state.project;
    this._subscription?.dispose();
    this._subscription = null;
    this._processes = new Map();
    this._datasets = new Map();
    this._heard = new Map();
    if (state.project !== null) {
      this._subscription = this.events.subscribe(
        { project: state.project },
        e => this._onEvent(e)
      );
      void this.reload();
    }
    this._changed.emit();
  }

  private _onEvent(event: NagelfluhEvent): void {
    switch (event.type) {
      case 'resync':
        void this.reload();
        return;
      case 'state': {
        if (this._loading || this._fetching.has(event.process)) {
          const heard =
            this._heard.get(event.process) ?? new Map<number, State>();
          this._heard.set(event.process, heard.set(event.version, event.state));
        }
        const version = this._version(event.process, event.version);
        if (!version) {
          this._heardOf(event.process);
          return;
        }
        const wasTerminal = TERMINAL.has(version.state);
        version.state = event.state;
        version.reason = event.reason;
        if (event.message !== undefined) {
          version.message = event.message;
        }
        if (event.progress !== undefined) {
          version.progress = event.progress;
        }
        if (!wasTerminal && TERMINAL.has(event.state)) {
          // Timings, cost and outputs are final now: fetch them once.
          void this._fetch(event.process, event.version);
          void this.refreshAccount().then(() => this._changed.emit());
        }
        this._changed.emit();
        return;
      }
      case 'progress': {
        const version = this._version(event.process, event.version);
        if (version) {
          version.progress = event.progress;
          this._changed.emit();
        }
        return;
      }
      case 'datasets': {
        const version = this._version(event.process, event.version);
        const shown = new Set(version?.outputs.map(d => d.id));
        for (const dataset of event.datasets) {
          const fresh =
            !this._datasets.has(dataset.id) && !shown.has(dataset.id);
          this._datasets.set(dataset.id, dataset);
          if (version && fresh) {
            version.output_count += 1;
            if (version.outputs.length < INLINE_OUTPUTS) {
              version.outputs.push(dataset);
            }
          }
        }
        this._changed.emit();
        return;
      }
      default:
        return;
    }
  }

  /**
   * A process or version the store lacks. While the project loads, subscribing
   * replays the state of every process — thousands of single fetches would
   * exhaust the browser's connections — so they wait for the load, and only
   * what it did not bring is fetched one by one.
   */
  private _heardOf(process: number): void {
    if (this._loading) {
      this._unseen.add(process);
    } else {
      void this._fetch(process);
    }
  }

  private _version(process: number, number: number): IVersion | undefined {
    return this._processes
      .get(process)
      ?.versions.find(v => v.version === number);
  }

  /** Fetch one process (once at a time); announce `finished` for the version that ended. */
  private _fetch(id: number, ended?: number): Promise<void> {
    const running = this._fetching.get(id);
    if (running && ended === undefined) {
      return running;
    }
    const fetch: Promise<void> = this._fetchNow(id, ended).finally(() => {
      if (this._fetching.get(id) === fetch) {
        this._fetching.delete(id);
      }
      this._reconcile(id);
    });
    this._fetching.set(id, fetch);
    return fetch;
  }

  /**
   * An answer may have been read before a state change the events brought while
   * it was on its way: then it holds an older state, over the newer one. A
   * process whose answer disagrees with what was heard meanwhile is fetched once
   * more — asked after the event came, the answer holds its change or a newer one.
   */
  private _reconcile(id: number): void {
    const heard = this._heard.get(id);
    if (heard === undefined || this._fetching.has(id)) {
      return; // a fetch still on its way reconciles when it lands
    }
    this._heard.delete(id);
    for (const [number, state] of heard) {
      if (this._version(id, number)?.state !== state) {
        void this._fetch(id);
        return;
      }
    }
  }

  private async _fetchNow(id: number, ended?: number): Promise<void> {
    try {
      const process = await this.client.process(id);
      if (process.project !== this.selection.project) {
        return;
      }
      this.upsert(process);
      const version = process.versions.find(v => v.version === ended);
      const key = `${id}:${ended}`;
      if (version && TERMINAL.has(version.state) && !this._announced.has(key)) {
        this._announced.add(key);
        this._finished.emit({ process, version });
      }
    } catch {
      // The process may be gone or unreadable; the next reload tells.
    }
  }

  private _project: number | null = null;
  private _projects: IProject[] = [];
  private _types: IProcessType[] = [];
  private _brokenTypes: IBrokenType[] = [];
  private _account: IAccount | null = null;
  private _billing = false;
  private _processes = new Map<number, IProcess>();
  private _datasets = new Map<number, IDataset>();
  private _announced = new Set<string>();
  private _fetching = new Map<number, Promise<void>>();
  private _unseen = new Set<number>();
  // Per process, the state of each version heard while the process (or the project) was being fetched.
  private _heard = new Map<number, Map<number, State>>();
  private _subscription: IDisposable | null = null;
  private _loading = false;
  private _error: string | null = null;
  private _unavailable = false;
  private _disposed = false;
  private _changed = new Signal<this, void>(this);
  private _finished = new Signal<this, IFinished>(this);
}
