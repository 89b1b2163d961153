/**
 * Typed client of the server extension's REST API (DESIGN §5).
 *
 * Every view goes through this one class so that errors reach the user in one
 * shape: an `ApiError` carrying the server's code, message and field details.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import type { components } from './generated/openapi';

/**
 * The API's bodies, as generated from openapi.json (`jlpm generate:api`; a
 * spec fails when the generated file is out of date). The names the views use
 * are aliases of the document's schemas.
 */
type Schemas = components['schemas'];

export type State = Schemas['Version']['state'];

/** How many outputs a version carries inline (the server's version_outputs.INLINE). */
export const INLINE_OUTPUTS = 100;

export type IResources = Schemas['Resources'];
export type IVariable = Schemas['DatasetVariable'];
export type IDataset = Schemas['Dataset'];
/** A version; `outputs` holds the first INLINE_OUTPUTS, the rest are pages of `dataset`. */
export type IVersion = Schemas['Version'];
export type IProcess = Schemas['Process'];
export type IProject = Schemas['Project'];
export type IProcessType = Schemas['ProcessType'];
/** What a type is: a packaged ProcessType, or a project's registered notebook or function. */
export type ITypeKind = IProcessType['kind'];
/** A process type whose code failed to load: listed so that a user sees why it is missing. */
export type IBrokenType = Schemas['BrokenProcessType'];
/** `GET process-types`: the types, and the broken ones. */
export type ITypeListing = Schemas['ProcessTypeList'];
export type IEnvironment = Schemas['Environment'];
export type ILogLine = Schemas['LogLine'];
export type ITransaction = Schemas['Transaction'];
export type IAccount = Schemas['Account'];
/** One difference between two versions, addressed by JSON pointer. */
export type IChange = Schemas['Change'];
export type IComparison = Schemas['Compare'];
export type IViewColumn = Schemas['ViewColumn'];
export type IDatasetView = Schemas['DatasetView'];
/** A 2-D variable as a grid of at most height x width cells (GET dataset/{id}/view?z=...). */
export type IDatasetGrid = Schemas['DatasetGrid'];
/** What exactly produced a version (type, environment, inputs and outputs by digest, cache decision). */
export type IProvenance = Schemas['Provenance'];
/** How an exact re-run's outputs compare with the original's. */
export type IReproducibility = Schemas['Reproducibility'];
/** A version of a process, as `cached_from` and `rerun_of` name it. */
export type IVersionRef = Schemas['VersionRef'];

/** A page of a listing. */
export interface IPage<T> {
  items: T[];
  next: string | number | null;
}

export interface IGridQuery {
  z: string;
  width: number;
  height: number;
  x0?: number;
  x1?: number;
  y0?: number;
  y1?: number;
  reduce?: 'mean' | 'min' | 'max';
}

export interface IViewQuery {
  x?: string;
  y?: string[];
  points?: number;
  x0?: number;
  x1?: number;
}

/** One offending field of a 400 answer: its JSON pointer and what is wrong. */
export type IFieldError = Pick<Schemas['FieldError'], 'path' | 'message'>;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown,
    /** The answer was this API's JSON error, not a page of whatever else answered. */
    readonly fromApi = true
  ) {
    super(message);
  }

  /** The field errors of a 400: its details list each offending field (other errors carry other details). */
  get fieldErrors(): IFieldError[] {
    if (!Array.isArray(this.details)) {
      return [];
    }
    return this.details
      .filter(item => typeof item?.path === 'string')
      .map(item => ({ path: item.path, message: String(item.message ?? '') }));
  }
}

/** `POST process-types`: a notebook (its path in the Jupyter contents, or the document) made a type of a project. */
export type INotebookRegistration = Schemas['TypeRegistration'];

/** The registered type, and whether it is a new revision (201) or identical to the current one (200). */
export interface IRegistered {
  type: IProcessType;
  created: boolean;
}

export interface IUploadOptions {
  /** Told the bytes sent so far and the total as the body goes out. */
  onProgress?: (sent: number, total: number) => void;
  /** Aborting it cancels the upload (it then rejects with code `aborted`). */
  signal?: AbortSignal;
}

/** What an upload does with its XMLHttpRequest (a test hands in a fake). */
export interface IUploadRequest {
  readonly upload: { onprogress: ((event: ProgressEvent) => void) | null };
  onload: ((event: ProgressEvent) => void) | null;
  onerror: ((event: ProgressEvent) => void) | null;
  onabort: ((event: ProgressEvent) => void) | null;
  readonly status: number;
  readonly statusText: string;
  readonly responseText: string;
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  send(body: Blob): void;
  abort(): void;
}

interface IRequestOptions {
  query?: Record<string, unknown>;
  body?: unknown;
  headers?: Record<string, string>;
}

export class NagelfluhClient {
  constructor(
    readonly settings: ServerConnection.ISettings = ServerConnection.makeSettings(),
    /** Makes the requests of uploads. */
    private readonly newRequest: () => IUploadRequest = () =>
      new XMLHttpRequest()
  ) {}

  /** The absolute URL of a route under `nagelfluh/api/`. */
  url(path: string, query: Record<string, unknown> = {}): string {
    const base = URLExt.join(this.settings.baseUrl, 'nagelfluh/api', path);
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined || value === null) {
        continue;
      }
      for (const item of Array.isArray(value) ? value : [value]) {
        params.append(key, String(item));
      }
    }
    const search = params.toString();
    return search ? `${base}?${search}` : base;
  }

  async request<T>(
    method: string,
    path: string,
    options: IRequestOptions = {}
  ): Promise<T> {
    return (await this.send<T>(method, path, options)).data;
  }

  /** A request's JSON with its status, for the routes whose 200 and 201 mean different things. */
  async send<T>(
    method: string,
    path: string,
    options: IRequestOptions = {}
  ): Promise<{ status: number; data: T }> {
    const init: RequestInit = {
      method,
      headers: { ...(options.headers ?? {}) }
    };
    if (options.body !== undefined) {
      init.body = JSON.stringify(options.body);
      (init.headers as Record<string, string>)['Content-Type'] =
        'application/json';
    }
    const response = await this.fetch(this.url(path, options.query), init);
    const data = answer<T>(
      response.status,
      response.statusText,
      await response.text()
    );
    return { status: response.status, data };
  }

  /** A request through Jupyter's connection (its credentials); no answer at all is an ApiError `network`. */
  private async fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await ServerConnection.makeRequest(url, init, this.settings);
    } catch (error) {
      throw new ApiError(
        0,
        'network',
        `the server is unreachable: ${error}`,
        null
      );
    }
  }

  /** Every item of a paginated list, following `next` cursors. */
  async all<T>(
    path: string,
    query: Record<string, unknown> = {}
  ): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | number | null = null;
    do {
      const page: IPage<T> = await this.request<IPage<T>>('GET', path, {
        query: { ...query, limit: 200, cursor: cursor ?? undefined }
      });
      items.push(...page.items);
      cursor = page.next;
    } while (cursor !== null && cursor !== undefined);
    return items;
  }

  environments(): Promise<IPage<IEnvironment>> {
    return this.request('GET', 'environments');
  }

  /** The types usable in `project` (the installation's and the project's own), or the installation's alone. */
  processTypes(project?: number | null): Promise<ITypeListing> {
    return this.request('GET', 'process-types', {
      query: { project: project ?? undefined }
    });
  }

  /** Register a notebook as a process type of a project: a new type, or a new revision of the project's type of that name. */
  async registerNotebook(body: INotebookRegistration): Promise<IRegistered> {
    const { status, data } = await this.send<IProcessType>(
      'POST',
      'process-types',
      { body }
    );
    return { type: data, created: status === 201 };
  }

  /** Retire a project's own type: it leaves the listing and takes no new versions; what it made stays. */
  retireType(name: string, project: number): Promise<IProcessType> {
    return this.request('DELETE', `process-types/${encodeURIComponent(name)}`, {
      query: { project }
    });
  }

  projects(): Promise<IPage<IProject>> {
    return this.request('GET', 'projects');
  }

  createProject(name: string): Promise<IProject> {
    return this.request('POST', 'projects', { body: { name } });
  }

  processes(project: number): Promise<IProcess[]> {
    return this.all<IProcess>('process', { project });
  }

  process(id: number): Promise<IProcess> {
    return this.request('GET', `process/${id}`);
  }

  createProcess(body: {
    project: number;
    type: string;
    name: string;
    parameters: Record<string, unknown>;
    resources: IResources;
    /** False: run even if identical work completed before. */
    cache?: boolean;
  }): Promise<IProcess> {
    return this.request('POST', 'process', {
      body,
      headers: { 'Idempotency-Key': randomKey() }
    });
  }

  newVersion(
    id: number,
    body: {
      parameters: Record<string, unknown>;
      resources?: IResources;
      /** False: run even if identical work completed before. */
      cache?: boolean;
    }
  ): Promise<IVersion> {
    return this.request('POST', `process/${id}/versions`, { body });
  }

  version(id: number, version: number): Promise<IVersion> {
    return this.request('GET', `process/${id}/versions/${version}`);
  }

  cancel(id: number, version: number): Promise<IVersion> {
    return this.request('POST', `process/${id}/versions/${version}/cancel`);
  }

  restore(id: number, version: number): Promise<IVersion> {
    return this.request('POST', `process/${id}/versions/${version}/restore`);
  }

  /** Re-run a version exactly: a new version from its provenance, the cache bypassed (201). */
  rerun(id: number, version: number): Promise<IVersion> {
    return this.request('POST', `process/${id}/versions/${version}/rerun`);
  }

  compare(id: number, v1: number, v2: number): Promise<IComparison> {
    return this.request('GET', `process/${id}/versions/compare`, {
      query: { v1, v2 }
    });
  }

  logs(
    id: number,
    version: number,
    since: number,
    limit = 5000
  ): Promise<IPage<ILogLine>> {
    return this.request('GET', `process/${id}/versions/${version}/logs`, {
      query: { since, limit }
    });
  }

  datasets(project: number): Promise<IDataset[]> {
    return this.all<IDataset>('dataset', { project });
  }

  /** A dataset's bytes as text (an executed notebook's JSON, a CSV table). */
  async datasetText(id: number): Promise<string> {
    const response = await this.fetch(this.url(`dataset/${id}`), {
      method: 'GET'
    });
    const text = await response.text();
    if (!response.ok) {
      answer<unknown>(response.status, response.statusText, text);
    }
    return text;
  }

  datasetMeta(
    id: number
  ): Promise<IDataset & { units: Record<string, string | null> }> {
    return this.request('GET', `dataset/${id}/meta`);
  }

  datasetView(id: number, query: IViewQuery): Promise<IDatasetView> {
    return this.request('GET', `dataset/${id}/view`, { query: { ...query } });
  }

  /** A 2-D variable of a NetCDF dataset as a grid fitted to `width` x `height` cells. */
  datasetGrid(id: number, query: IGridQuery): Promise<IDatasetGrid> {
    return this.request('GET', `dataset/${id}/view`, { query: { ...query } });
  }

  /**
   * Upload a file as a dataset of `project` (POST dataset; 201 with the dataset).
   *
   * XMLHttpRequest, not ServerConnection's fetch: only it reports upload
   * progress, and fetch through ServerConnection would label an untyped file
   * JSON. So the request carries Jupyter's credentials itself: the token and,
   * for a cookie session, the XSRF token, as ServerConnection adds them.
   */
  upload(
    project: number,
    name: string,
    body: Blob,
    options: IUploadOptions = {}
  ): Promise<IDataset> {
    return new Promise((resolve, reject) => {
      const cancelled = () =>
        reject(new ApiError(0, 'aborted', 'the upload was cancelled', null));
      if (options.signal?.aborted) {
        cancelled();
        return;
      }
      const request = this.newRequest();
      request.open('POST', this.url('dataset', { project, name }));
      for (const [header, value] of Object.entries(
        authHeaders(this.settings)
      )) {
        request.setRequestHeader(header, value);
      }
      request.upload.onprogress = event =>
        options.onProgress?.(
          event.loaded,
          event.lengthComputable ? event.total : body.size
        );
      request.onload = () => {
        try {
          resolve(
            answer<IDataset>(
              request.status,
              request.statusText,
              request.responseText
            )
          );
        } catch (error) {
          reject(error);
        }
      };
      request.onerror = () =>
        reject(
          new ApiError(
            0,
            'network',
            'the upload broke off: the server is unreachable or closed the connection ' +
              '(it refuses a file over its upload limit that way)',
            null
          )
        );
      request.onabort = cancelled;
      options.signal?.addEventListener('abort', () => request.abort(), {
        once: true
      });
      request.send(body);
    });
  }

  estimate(
    resources: IResources
  ): Promise<{ estimated: number; rates: Record<string, number> }> {
    return this.request('POST', 'estimate', { body: { resources } });
  }

  account(): Promise<IAccount> {
    return this.request('GET', 'account');
  }

  /**
   * The URL a link downloads a dataset from (a store's as a ZIP archive), with the
   * token when the server takes it in URLs; a cookie session needs none for a GET.
   */
  downloadUrl(id: number): string {
    const url = this.url(`dataset/${id}`);
    const token = this.settings.token;
    return token && this.settings.appendToken
      ? `${url}?token=${encodeURIComponent(token)}`
      : url;
  }

  /** The WebSocket URL of the events stream, with the token when the server uses one. */
  eventsUrl(): string {
    const url = URLExt.join(this.settings.wsUrl, 'nagelfluh/api/events');
    const token = this.settings.token;
    return token && this.settings.appendToken
      ? `${url}?token=${encodeURIComponent(token)}`
      : url;
  }
}

/** A response's JSON, or its error as an ApiError (the server's code, message and details). */
function answer<T>(status: number, statusText: string, text: string): T {
  let data: any = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (status < 200 || status >= 300) {
    const error = data?.error ?? {};
    throw new ApiError(
      status,
      error.code ?? String(status),
      error.message ?? (statusText || `HTTP ${status}`),
      error.details ?? null,
      data?.error !== undefined
    );
  }
  return data as T;
}

/**
 * Why nagelfluh's API is not there at all, or null when it answered: no answer
 * from the server, or a 404 that is not the API's own (Jupyter's page for a
 * route nobody serves: the server extension is not loaded).
 */
export function missingApi(error: unknown): string | null {
  if (!(error instanceof ApiError)) {
    return null;
  }
  if (error.code === 'network') {
    return error.message;
  }
  if (error.status === 404 && !error.fromApi) {
    return (
      'its API answers 404 Not Found. Check that it is installed and enabled ' +
      '(jupyter server extension list), then restart the server.'
    );
  }
  return null;
}

/** The headers that authenticate a request as ServerConnection.makeRequest does: token, and XSRF token from the cookie. */
export function authHeaders(
  settings: ServerConnection.ISettings,
  cookie = documentCookie()
): Record<string, string> {
  const headers: Record<string, string> = {};
  if (settings.token) {
    headers['Authorization'] = `token ${settings.token}`;
  }
  // Tornado keeps the last of duplicate cookies, and so does ServerConnection.
  const xsrf = cookie
    .split(';')
    .map(part => part.trim())
    .filter(part => part.startsWith('_xsrf='))
    .pop();
  if (xsrf) {
    headers['X-XSRFToken'] = xsrf.slice('_xsrf='.length);
  }
  return headers;
}

function documentCookie(): string {
  try {
    return typeof document === 'undefined' ? '' : document.cookie;
  } catch {
    return ''; // a sandboxed page may not read cookies
  }
}

function randomKey(): string {
  return globalThis.crypto?.randomUUID?.() ?? `${Date.now()}-${Math.random()}`;
}
