/**
 * The user's files into the active project: from the side panel's file picker,
 * files dropped on the panel, and the file browser's context menu.
 *
 * Each upload is a transfer the panel lists with its progress while it runs
 * (and with its reason once it failed, until dismissed). A taken or refused
 * name asks the user for another one. The new dataset joins the store at once,
 * so the process form's dataset picker offers it without a reload.
 */
import { ISignal, Signal } from '@lumino/signaling';
import { ApiError, IDataset } from './api';
import { ProjectStore } from './store';
import { IFolder, checkStore, zipStore } from './stores';

export { blobOfContents } from './stores';

export interface ITransfer {
  readonly id: number;
  /** The name it is uploaded under (another one after a taken name). */
  name: string;
  /** Zipping a store's folder (bytes of its files), then uploading (bytes of the body). */
  phase: 'zipping' | 'uploading';
  total: number;
  sent: number;
  /** Why it failed; null while it runs. */
  error: string | null;
}

/**
 * Asks for another name when the server refused one (`reason` says why),
 * proposing `suggestion`; null gives up on the upload.
 */
export type AskName = (
  reason: string,
  suggestion: string
) => Promise<string | null>;

export class Uploads {
  constructor(
    private readonly store: ProjectStore,
    private readonly askName: AskName
  ) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get transfers(): ITransfer[] {
    return [...this._transfers.values()];
  }

  /**
   * Upload files one after another, so that a drop of many does not split the
   * connection between them; the datasets made. A failure stays listed and the
   * next file goes on.
   */
  async uploadFiles(files: readonly File[]): Promise<IDataset[]> {
    return this.uploadAll(files);
  }

  /**
   * Upload files and Zarr stores' folders (as a drop carries them) one after
   * another; the datasets made. A failure (a folder that is no store too) stays
   * listed and the next one goes on.
   */
  async uploadAll(items: readonly (File | IFolder)[]): Promise<IDataset[]> {
    const made: IDataset[] = [];
    for (const item of items) {
      try {
        const dataset =
          item instanceof Blob
            ? await this.upload(item.name, item)
            : await this.uploadFolder(item);
        if (dataset) {
          made.push(dataset);
        }
      } catch {
        // Listed with its reason (and a way to dismiss it) in the panel.
      }
    }
    return made;
  }

  /**
   * Upload `body` as a dataset named `name` of the active project: the dataset,
   * or null when cancelled or the user gave up on a refused name. Any other
   * failure stays listed and is thrown.
   */
  async upload(
    name: string,
    body: Blob,
    onProgress?: (sent: number, total: number) => void
  ): Promise<IDataset | null> {
    return this._run(name, 'uploading', body.size, body, onProgress);
  }

  /**
   * Upload a Zarr store's folder as one dataset named after it: its files are
   * zipped in the browser (the transfer lists the bytes zipped), then the
   * archive is uploaded as `upload` does. A folder that is no Zarr store fails
   * with a StoreError saying so, before anything is sent.
   */
  async uploadFolder(
    folder: IFolder,
    onProgress?: (sent: number, total: number) => void
  ): Promise<IDataset | null> {
    return this._run(
      folder.name,
      'zipping',
      0,
      async (transfer, signal) => {
        const files = await folder.files();
        checkStore(folder, files);
        const archive = await zipStore(
          folder.name,
          files,
          (done, total) => {
            transfer.sent = done;
            transfer.total = total;
            this._changed.emit();
          },
          signal
        );
        transfer.phase = 'uploading';
        transfer.sent = 0;
        transfer.total = archive.size;
        this._changed.emit();
        return archive;
      },
      onProgress
    );
  }

  /** One transfer: its body, or how to make it (a cancel meanwhile gives up), is sent. */
  private async _run(
    name: string,
    phase: ITransfer['phase'],
    total: number,
    prepare:
      Blob | ((transfer: ITransfer, signal: AbortSignal) => Promise<Blob>),
    onProgress?: (sent: number, total: number) => void
  ): Promise<IDataset | null> {
    const transfer: ITransfer = {
      id: this._next++,
      name,
      phase,
      total,
      sent: 0,
      error: null
    };
    const controller = new AbortController();
    this._transfers.set(transfer.id, transfer);
    this._controllers.set(transfer.id, controller);
    this._changed.emit();
    try {
      const project = this.store.selection.project;
      if (project === null) {
        throw new Error(
          'no active project: choose or create one in the Nagelfluh panel'
        );
      }
      let body: Blob;
      if (prepare instanceof Blob) {
        body = prepare; // sent at once, not a tick later
      } else {
        try {
          body = await prepare(transfer, controller.signal);
        } catch (error) {
          if (controller.signal.aborted) {
            this.dismiss(transfer.id);
            return null;
          }
          throw error;
        }
      }
      for (;;) {
        let refusal: string | null;
        try {
          const dataset = await this.store.client.upload(
            project,
            transfer.name,
            body,
            {
              signal: controller.signal,
              onProgress: (sent, total) => {
                transfer.sent = sent;
                this._changed.emit();
                onProgress?.(sent, total);
              }
            }
          );
          this.dismiss(transfer.id);
          this.store.addDataset(dataset);
          return dataset;
        } catch (error) {
          if (error instanceof ApiError && error.code === 'aborted') {
            this.dismiss(transfer.id);
            return null;
          }
          refusal = this._refusedName(error, project, transfer.name);
          if (refusal === null) {
            throw error;
          }
        }
        transfer.sent = 0; // the whole file goes again, under another name
        this._changed.emit();
        const other = await this.askName(
          refusal,
          this._freeName(transfer.name)
        );
        if (other === null) {
          this.dismiss(transfer.id);
          return null;
        }
        transfer.name = other;
        this._changed.emit();
      }
    } catch (error) {
      transfer.error = error instanceof Error ? error.message : String(error);
      this._controllers.delete(transfer.id);
      this._changed.emit();
      throw error;
    }
  }

  /** Stop a running upload. */
  cancel(id: number): void {
    this._controllers.get(id)?.abort();
  }

  /** Forget a transfer (a failed one the user has read). */
  dismiss(id: number): void {
    this._controllers.delete(id);
    if (this._transfers.delete(id)) {
      this._changed.emit();
    }
  }

  /** Why the server refused `name` when another name may do: taken (409) or invalid (400 on /name). */
  private _refusedName(
    error: unknown,
    project: number,
    name: string
  ): string | null {
    if (!(error instanceof ApiError)) {
      return null;
    }
    if (error.status === 409) {
      const title =
        this.store.projects.find(p => p.id === project)?.name ?? `#${project}`;
      return `A dataset named “${name}” already exists in project “${title}”.`;
    }
    const field = error.fieldErrors.find(f => f.path === '/name');
    return error.status === 400 && field
      ? `“${name}” is no valid name: ${field.message}`
      : null;
  }

  private _freeName(name: string): string {
    const uploads = this.store.datasets
      .filter(d => d.process === null)
      .map(d => d.name);
    return freeName(name, new Set([name, ...uploads]));
  }

  private _next = 1;
  private _transfers = new Map<number, ITransfer>();
  private _controllers = new Map<number, AbortController>();
  private _changed = new Signal<this, void>(this);
}

/** `name` with the first counter (`data-2.nc`, `data-3.nc`, ...) that makes it none of `taken`. */
export function freeName(name: string, taken: ReadonlySet<string>): string {
  const slash = name.lastIndexOf('/') + 1;
  const dot = name.lastIndexOf('.');
  const cut = dot > slash ? dot : name.length;
  for (let n = 2; ; n++) {
    const candidate = `${name.slice(0, cut)}-${n}${name.slice(cut)}`;
    if (!taken.has(candidate)) {
      return candidate;
    }
  }
}

/** Whether a drag carries files from the desktop (not text, nor an item of Lab's own drags). */
export function carriesFiles(
  transfer: Pick<DataTransfer, 'types'> | null
): boolean {
  return Array.from(transfer?.types ?? []).includes('Files');
}

/** A size in B, kB, MB or GB (decimal, as file managers show them). */
export function formatBytes(size: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = size;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0
    ? `${value} B`
    : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
