/**
 * The user's files into the active project: from the side panel's file picker,
 * files dropped on the panel, and the file browser's context menu.
 *
 * Each upload is a transfer the panel lists with its progress while it runs
 * (and with its reason once it failed, until dismissed). A taken or refused
 * name asks the user for another one. The new dataset joins the store at once,
 * so the process form's dataset picker offers it without a reload.
 */
import { Contents } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';
import { ApiError, Dataset } from './api';
import { ProjectStore } from './store';

export interface Transfer {
  readonly id: number;
  /** The name it is uploaded under (another one after a taken name). */
  name: string;
  readonly total: number;
  sent: number;
  /** Why it failed; null while it runs. */
  error: string | null;
}

/**
 * Asks for another name when the server refused one (`reason` says why),
 * proposing `suggestion`; null gives up on the upload.
 */
export type AskName = (reason: string, suggestion: string) => Promise<string | null>;

export class Uploads {
  constructor(
    private readonly store: ProjectStore,
    private readonly askName: AskName
  ) {}

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get transfers(): Transfer[] {
    return [...this._transfers.values()];
  }

  /**
   * Upload files one after another, so that a drop of many does not split the
   * connection between them; the datasets made. A failure stays listed and the
   * next file goes on.
   */
  async uploadFiles(files: readonly File[]): Promise<Dataset[]> {
    const made: Dataset[] = [];
    for (const file of files) {
      try {
        const dataset = await this.upload(file.name, file);
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
  ): Promise<Dataset | null> {
    const transfer: Transfer = { id: this._next++, name, total: body.size, sent: 0, error: null };
    const controller = new AbortController();
    this._transfers.set(transfer.id, transfer);
    this._controllers.set(transfer.id, controller);
    this._changed.emit();
    try {
      const project = this.store.selection.project;
      if (project === null) {
        throw new Error('no active project: choose or create one in the Nagelfluh panel');
      }
      for (;;) {
        let refusal: string | null;
        try {
          const dataset = await this.store.client.upload(project, transfer.name, body, {
            signal: controller.signal,
            onProgress: (sent, total) => {
              transfer.sent = sent;
              this._changed.emit();
              onProgress?.(sent, total);
            }
          });
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
        const other = await this.askName(refusal, this._freeName(transfer.name));
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
  private _refusedName(error: unknown, project: number, name: string): string | null {
    if (!(error instanceof ApiError)) {
      return null;
    }
    if (error.status === 409) {
      const title = this.store.projects.find(p => p.id === project)?.name ?? `#${project}`;
      return `A dataset named “${name}” already exists in project “${title}”.`;
    }
    const field = error.fieldErrors.find(f => f.path === '/name');
    return error.status === 400 && field ? `“${name}” is no valid name: ${field.message}` : null;
  }

  private _freeName(name: string): string {
    const uploads = this.store.datasets.filter(d => d.process === null).map(d => d.name);
    return freeName(name, new Set([name, ...uploads]));
  }

  private _next = 1;
  private _transfers = new Map<number, Transfer>();
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
export function carriesFiles(transfer: DataTransfer | null): boolean {
  return Array.from(transfer?.types ?? []).includes('Files');
}

/** The bytes of a file the contents API read as base64, typed as the server guessed. */
export function blobOfContents(model: Contents.IModel): Blob {
  if (model.format !== 'base64' || typeof model.content !== 'string') {
    throw new Error(`${model.path} was not read as base64`);
  }
  const binary = atob(model.content.replace(/\s/g, ''));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return new Blob([bytes], { type: model.mimetype ?? '' });
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
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
