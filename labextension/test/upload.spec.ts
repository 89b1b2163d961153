import { describe, expect, it } from 'vitest';
import { ServerConnection } from '@jupyterlab/services';
import {
  ApiError,
  IDataset,
  NagelfluhClient,
  IProject,
  IUploadOptions,
  IUploadRequest,
  authHeaders
} from '../src/api';
import { Selection } from '../src/selection';
import { ProjectStore } from '../src/store';
import { IFolder } from '../src/stores';
import {
  AskName,
  Uploads,
  blobOfContents,
  carriesFiles,
  formatBytes,
  freeName
} from '../src/upload';
import { makeContentsModel, makeDataset } from './factories';
import { FakeClient, FakeEvents } from './fakes';

/** An XMLHttpRequest as far as uploads use it; the test plays the server's part. */
class FakeRequest implements IUploadRequest {
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: unknown = undefined;
  status = 0;
  statusText = '';
  responseText = '';
  aborted = false;
  upload: IUploadRequest['upload'] = { onprogress: null };
  onload: IUploadRequest['onload'] = null;
  onerror: IUploadRequest['onerror'] = null;
  onabort: IUploadRequest['onabort'] = null;

  open(method: string, url: string): void {
    this.method = method;
    this.url = url;
  }

  setRequestHeader(name: string, value: string): void {
    this.headers[name] = value;
  }

  send(body: unknown): void {
    this.body = body;
  }

  abort(): void {
    this.aborted = true;
    this.onabort?.(new ProgressEvent('abort'));
  }

  sent(loaded: number, total: number): void {
    this.upload.onprogress?.(
      new ProgressEvent('progress', { loaded, total, lengthComputable: true })
    );
  }

  answer(status: number, body: unknown): void {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.(new ProgressEvent('load'));
  }
}

function clientWithFakeRequests(token = 'secret'): {
  client: NagelfluhClient;
  requests: FakeRequest[];
} {
  const requests: FakeRequest[] = [];
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://lab.test/user/me/',
    token
  });
  const client = new NagelfluhClient(settings, () => {
    const request = new FakeRequest();
    requests.push(request);
    return request;
  });
  return { client, requests };
}

const settle = () => new Promise(resolve => setTimeout(resolve, 0));

/** A blob's bytes (jsdom's Blob has no arrayBuffer()). */
const bytesOf = (blob: Blob) =>
  new Promise<Uint8Array>(resolve => {
    const reader = new FileReader();
    reader.onload = () => resolve(new Uint8Array(reader.result as ArrayBuffer));
    reader.readAsArrayBuffer(blob);
  });

describe('uploading through the API client', () => {
  it('sends the raw file to dataset?project&name with the Jupyter token and reports progress', async () => {
    const { client, requests } = clientWithFakeRequests();
    const file = new File(['CDF\x01 and more'], 'obs 1.nc', {
      type: 'application/x-netcdf'
    });
    const progress: [number, number][] = [];
    const uploaded = client.upload(3, 'obs 1.nc', file, {
      onProgress: (sent, total) => progress.push([sent, total])
    });
    const [request] = requests;
    expect(request.method).toBe('POST');
    expect(request.url).toBe(
      'http://lab.test/user/me/nagelfluh/api/dataset?project=3&name=obs+1.nc'
    );
    expect(request.headers['Authorization']).toBe('token secret');
    expect(request.body).toBe(file);
    request.sent(6, 14);
    request.sent(14, 14);
    request.answer(201, makeDataset(9, null, { project: 3, name: 'obs 1.nc' }));
    expect((await uploaded).id).toBe(9);
    expect(progress).toEqual([
      [6, 14],
      [14, 14]
    ]);
  });

  it('carries the XSRF token of a cookie session, the last one as tornado reads them', () => {
    const settings = ServerConnection.makeSettings({
      baseUrl: 'http://lab.test/',
      token: ''
    });
    expect(authHeaders(settings, 'a=1; _xsrf=old; b=2; _xsrf=2|abc')).toEqual({
      'X-XSRFToken': '2|abc'
    });
    expect(authHeaders(settings, '')).toEqual({});
  });

  it('turns a taken name into an ApiError with the server’s code, message and details', async () => {
    const { client, requests } = clientWithFakeRequests();
    const uploaded = client.upload(1, 'a.nc', new Blob(['x']));
    requests[0].answer(409, {
      error: {
        code: 'conflict',
        message: "an upload named 'a.nc' already exists",
        details: { name: 'a.nc' }
      }
    });
    await expect(uploaded).rejects.toMatchObject({
      status: 409,
      code: 'conflict',
      details: { name: 'a.nc' }
    });
  });

  it('tells a connection that broke off from an upload the user cancelled', async () => {
    const { client, requests } = clientWithFakeRequests();
    const broken = client.upload(1, 'big.nc', new Blob(['x']));
    requests[0].onerror?.(new ProgressEvent('error'));
    await expect(broken).rejects.toMatchObject({ status: 0, code: 'network' });
    const controller = new AbortController();
    const cancelled = client.upload(1, 'big.nc', new Blob(['x']), {
      signal: controller.signal
    });
    controller.abort();
    await expect(cancelled).rejects.toMatchObject({ code: 'aborted' });
    expect(requests[1].aborted).toBe(true);
    const late = client.upload(1, 'big.nc', new Blob(['x']), {
      signal: controller.signal
    });
    await expect(late).rejects.toMatchObject({ code: 'aborted' });
    expect(requests).toHaveLength(2); // cancelled before it went out (while a new name was asked)
  });
});

/** A store on project 1 ("Field work") whose client's uploads the test scripts. */
class Scene {
  calls: {
    project: number;
    name: string;
    body: Blob;
    options: IUploadOptions;
  }[] = [];
  answers: ((call: Scene['calls'][number]) => Promise<IDataset>)[] = [];
  asked: { reason: string; suggestion: string }[] = [];
  reply: string | null = null;
  client: FakeClient;
  store: ProjectStore;
  uploads: Uploads;

  constructor(datasets: IDataset[] = []) {
    const project: IProject = {
      id: 1,
      name: 'Field work',
      created: 0,
      members: []
    };
    const client = new FakeClient();
    client.projects = async () => ({ items: [project], next: null });
    client.datasets = async () => datasets;
    client.upload = (project, name, body, options = {}) => {
      const call = { project, name, body, options };
      this.calls.push(call);
      const next = this.answers.shift();
      return next ? next(call) : new Promise<IDataset>(() => undefined);
    };
    this.client = client;
    const events = new FakeEvents();
    this.store = new ProjectStore(client, events, new Selection(null));
    const askName: AskName = async (reason, suggestion) => {
      this.asked.push({ reason, suggestion });
      return this.reply;
    };
    this.uploads = new Uploads(this.store, askName);
  }

  async start(): Promise<this> {
    await this.store.start();
    await settle();
    return this;
  }
}

const created = (
  call: { project: number; name: string; body: Blob },
  id: number
) =>
  Promise.resolve(
    makeDataset(id, null, {
      project: call.project,
      name: call.name,
      size: call.body.size
    })
  );

const refused =
  (status: number, code: string, details: unknown = null) =>
  () =>
    Promise.reject(new ApiError(status, code, `refused (${code})`, details));

describe('uploads of the side panel and the file browser', () => {
  it('put the new dataset into the project’s list at once, so the dataset picker offers it', async () => {
    const scene = await new Scene().start();
    scene.answers.push(call => created(call, 12));
    const dataset = await scene.uploads.upload('survey.nc', new Blob(['CDF']));
    expect(scene.calls.map(c => [c.project, c.name])).toEqual([
      [1, 'survey.nc']
    ]);
    expect(dataset?.id).toBe(12);
    expect(scene.store.datasets.map(d => d.name)).toEqual(['survey.nc']);
    expect(scene.uploads.transfers).toEqual([]);
  });

  it('list a running upload with the bytes sent so far', async () => {
    const scene = await new Scene().start();
    void scene.uploads.upload('big.nc', new Blob(['0123456789']));
    scene.calls[0].options.onProgress?.(4, 10);
    expect(scene.uploads.transfers).toMatchObject([
      { name: 'big.nc', sent: 4, total: 10, error: null }
    ]);
  });

  it('offer another, free name when the name is taken, and upload under the one chosen', async () => {
    const scene = await new Scene([
      makeDataset(5, null, { name: 'survey-2.nc' })
    ]).start();
    scene.answers.push(refused(409, 'conflict'), call => created(call, 13));
    scene.reply = 'survey-3.nc';
    const dataset = await scene.uploads.upload('survey.nc', new Blob(['CDF']));
    expect(scene.asked).toEqual([
      {
        reason:
          'A dataset named “survey.nc” already exists in project “Field work”.',
        suggestion: 'survey-3.nc'
      }
    ]);
    expect(scene.calls.map(c => c.name)).toEqual(['survey.nc', 'survey-3.nc']);
    expect(dataset?.name).toBe('survey-3.nc');
  });

  it('ask again for a name the server finds invalid, quoting its reason', async () => {
    const scene = await new Scene().start();
    scene.answers.push(
      refused(400, 'validation_failed', [
        { path: '/name', message: 'no .. segment' }
      ])
    );
    scene.reply = null;
    expect(await scene.uploads.upload('a.nc', new Blob(['x']))).toBeNull();
    expect(scene.asked[0].reason).toBe(
      '“a.nc” is no valid name: no .. segment'
    );
  });

  it('give up quietly when the user declines another name, or cancels a running upload', async () => {
    const scene = await new Scene().start();
    scene.answers.push(refused(409, 'conflict'));
    expect(await scene.uploads.upload('a.nc', new Blob(['x']))).toBeNull();
    scene.answers.push(refused(0, 'aborted'));
    expect(await scene.uploads.upload('b.nc', new Blob(['x']))).toBeNull();
    expect(scene.uploads.transfers).toEqual([]);
    expect(scene.store.datasets).toEqual([]);
  });

  it('keep a failed upload listed with its reason until dismissed, and go on with the next file', async () => {
    const scene = await new Scene().start();
    scene.answers.push(refused(507, 'insufficient_storage'), call =>
      created(call, 20)
    );
    const files = [new File(['x'], 'full.nc'), new File(['y'], 'next.nc')];
    const made = await scene.uploads.uploadFiles(files);
    expect(made.map(d => d.name)).toEqual(['next.nc']);
    const [failed] = scene.uploads.transfers;
    expect(failed).toMatchObject({
      name: 'full.nc',
      error: 'refused (insufficient_storage)'
    });
    scene.uploads.dismiss(failed.id);
    expect(scene.uploads.transfers).toEqual([]);
  });

  it('refuse with a reason when no project is active', async () => {
    const scene = new Scene();
    await expect(scene.uploads.upload('a.nc', new Blob(['x']))).rejects.toThrow(
      'no active project'
    );
    expect(scene.calls).toEqual([]);
  });

  it('zip a Zarr store’s folder and upload the archive under the folder’s name', async () => {
    const scene = await new Scene().start();
    const phases: string[] = [];
    scene.uploads.changed.connect(() =>
      phases.push(...scene.uploads.transfers.map(t => t.phase))
    );
    scene.answers.push(call => created(call, 30));
    const folder: IFolder = {
      name: 'model.zarr',
      files: async () =>
        [
          ['zarr.json', '{"zarr_format": 3}'],
          ['a/c/0', 'chunk']
        ].map(([path, content]) => ({
          path,
          size: content.length,
          read: async () => new Blob([content])
        }))
    };
    const dataset = await scene.uploads.uploadFolder(folder);
    expect(dataset?.id).toBe(30);
    const [call] = scene.calls;
    expect([call.project, call.name, call.body.type]).toEqual([
      1,
      'model.zarr',
      'application/zip'
    ]);
    const head = await bytesOf(call.body.slice(0, 4));
    expect([...head]).toEqual([0x50, 0x4b, 0x03, 0x04]); // a ZIP's local file header
    expect(phases).toContain('zipping');
    expect(phases.at(-1)).toBe('uploading');
    expect(scene.uploads.transfers).toEqual([]);
  });

  it('list a folder that is no Zarr store as failed, saying why, and send nothing', async () => {
    const scene = await new Scene().start();
    const folder: IFolder = {
      name: 'photos',
      files: async () => [
        { path: 'outcrop.jpg', size: 3, read: async () => new Blob(['jpg']) }
      ]
    };
    scene.answers.push(call => created(call, 31));
    const made = await scene.uploads.uploadAll([
      folder,
      new File(['CDF'], 'survey.nc')
    ]);
    expect(made.map(d => d.name)).toEqual(['survey.nc']);
    expect(scene.calls.map(c => c.name)).toEqual(['survey.nc']);
    const [failed] = scene.uploads.transfers;
    expect(failed.name).toBe('photos');
    expect(failed.error).toMatch(
      /^“photos” is no Zarr store \(no zarr.json, .zgroup or .zarray at its top\)/
    );
  });

  it('stop a running upload when cancelled from the panel', async () => {
    const { client, requests } = clientWithFakeRequests();
    const scene = await new Scene().start();
    scene.client.upload = client.upload.bind(client);
    const uploading = scene.uploads.upload('slow.nc', new Blob(['x']));
    scene.uploads.cancel(scene.uploads.transfers[0].id);
    expect(await uploading).toBeNull();
    expect(requests[0].aborted).toBe(true);
  });
});

describe('upload helpers', () => {
  it('number a taken name before its extension, skipping numbers in use', () => {
    expect(freeName('survey.nc', new Set(['survey.nc']))).toBe('survey-2.nc');
    expect(freeName('survey.nc', new Set(['survey.nc', 'survey-2.nc']))).toBe(
      'survey-3.nc'
    );
    expect(freeName('obs.v1/README', new Set())).toBe('obs.v1/README-2');
    expect(freeName('.env', new Set())).toBe('.env-2');
  });

  it('decode a file the contents API read as base64 to its exact bytes and type', async () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const base64 = btoa(String.fromCharCode(...bytes));
    const model = makeContentsModel({
      path: 'data/raw.nc',
      format: 'base64',
      mimetype: 'application/x-netcdf',
      content: base64.replace(/(.{76})/g, '$1\n') // the server breaks base64 into lines
    });
    const blob = blobOfContents(model);
    expect(blob.type).toBe('application/x-netcdf');
    expect(await bytesOf(blob)).toEqual(bytes);
  });

  it('take only drags that carry desktop files', () => {
    expect(carriesFiles({ types: ['Files'] })).toBe(true);
    expect(carriesFiles({ types: ['text/plain'] })).toBe(false);
    expect(carriesFiles(null)).toBe(false);
  });

  it('write sizes as file managers do', () => {
    expect([0, 999, 1500, 12_345_678, 3e9].map(formatBytes)).toEqual([
      '0 B',
      '999 B',
      '1.5 kB',
      '12 MB',
      '3.0 GB'
    ]);
  });
});
