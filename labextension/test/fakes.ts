/**
 * Typed fakes of the extension's services for the specs: each implements what
 * the production code declares it needs (a `Pick` of the real class), answering
 * from memory, so a spec replaces only the calls it is about.
 */
import { ServerConnection } from '@jupyterlab/services';
import {
  IAccount,
  IDataset,
  IPage,
  IProcess,
  IProcessType,
  IProject,
  ITypeListing,
  IUploadOptions,
  NagelfluhClient
} from '../src/api';
import { EventStream, NagelfluhEvent, Target } from '../src/events';
import { StoreClient } from '../src/store';

/**
 * A real client whose every request `serve` answers (a thrown error is a network
 * failure): what it sends is seen as the server would see it.
 */
export function clientServedBy(
  serve: (request: Request) => Response | Promise<Response>
): NagelfluhClient {
  return new NagelfluhClient(
    ServerConnection.makeSettings({
      baseUrl: 'http://lab.test/',
      wsUrl: 'ws://lab.test/',
      fetch: async (input: RequestInfo | URL, init?: RequestInit) =>
        serve(new Request(input, init))
    })
  );
}

/** The server's REST side as the project store (and the uploads) use it: empty until told. */
export class FakeClient implements StoreClient {
  projects = async (): Promise<IPage<IProject>> => ({ items: [], next: null });
  processTypes = async (): Promise<ITypeListing> => ({
    items: [],
    next: null,
    broken: []
  });
  estimate = async (): Promise<{
    estimated: number;
    rates: Record<string, number>;
  }> => ({ estimated: 0, rates: {} });
  processes = async (_project: number): Promise<IProcess[]> => [];
  datasets = async (_project: number): Promise<IDataset[]> => [];
  account = async (): Promise<IAccount> => ({
    user: 'me',
    balance: 0,
    transactions: []
  });
  process = async (id: number): Promise<IProcess> => {
    throw new Error(`no process ${id} in this fake`);
  };
  createProject = async (name: string): Promise<IProject> => ({
    id: 1,
    name,
    created: 0,
    members: []
  });
  retireType = async (
    name: string,
    _project: number
  ): Promise<IProcessType> => {
    throw new Error(`no process type ${name} in this fake`);
  };
  /** Never answers unless a spec says how. */
  upload = (
    _project: number,
    _name: string,
    _body: Blob,
    _options?: IUploadOptions
  ): Promise<IDataset> => new Promise<IDataset>(() => undefined);
}

/** The events WebSocket as the store uses it: the last listener is kept for the spec to call. */
export class FakeEvents implements Pick<EventStream, 'subscribe'> {
  listener: ((event: NagelfluhEvent) => void) | null = null;

  subscribe = (_: Target, listener: (event: NagelfluhEvent) => void) => {
    this.listener = listener;
    return { isDisposed: false, dispose: () => undefined };
  };
}
