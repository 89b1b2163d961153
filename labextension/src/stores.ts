/**
 * Zarr directory stores as uploads: a folder (dropped on the panel, chosen with
 * the folder picker, or selected in Lab's file browser) is walked, checked to
 * be a Zarr store, and zipped in the browser into one archive that the server
 * unpacks into a store (POST dataset with `Content-Type: application/zip`).
 *
 * Members are stored, not deflated: Zarr chunks are compressed already. Each
 * file is read in slices as it is zipped, and the archive's pieces are folded
 * into a Blob as they come, which the browser may keep on disk.
 */
import { Contents } from '@jupyterlab/services';
import { Zip, ZipPassThrough } from 'fflate';
import { IDataset } from './api';

export const ZARR_MIME_TYPE = 'application/x-zarr';
export const ZIP_MIME_TYPE = 'application/zip';
/** A Zarr v3 root holds zarr.json; a v2 root .zgroup (a group) or .zarray (one array). */
export const ROOT_MARKERS = ['zarr.json', '.zgroup', '.zarray'];
/** What a ZIP archive without ZIP64 (fflate writes none) holds at most. */
export const MAX_ZIP_FILES = 65535;
export const MAX_ZIP_BYTES = 0xffffffff;
/** Bytes of a file read at a time. */
const SLICE = 4 * 2 ** 20;
/** Archive bytes gathered before they are folded into the Blob. */
const FOLD = 32 * 2 ** 20;

/** A file of a folder, by its path below the folder ('/'-separated), read on demand. */
export interface IFolderFile {
  path: string;
  size: number;
  read(): Promise<Blob>;
}

/** A folder to upload as a store: its name and a walk of its files. */
export interface IFolder {
  name: string;
  files(): Promise<IFolderFile[]>;
  /** Said after "not a Zarr store" when the walk may have missed what makes one. */
  hint?: string;
}

/** A folder that is not a Zarr store, or a store the browser cannot zip. */
export class StoreError extends Error {}

/** Whether a dataset is a Zarr store: so typed, or its key a prefix. */
export function isStore(dataset: Pick<IDataset, 'mime_type' | 'key'>): boolean {
  return dataset.mime_type === ZARR_MIME_TYPE || dataset.key.endsWith('/');
}

/** The file name a dataset downloads as: its last name part, `.zip` added for a store. */
export function downloadName(
  dataset: Pick<IDataset, 'name' | 'mime_type' | 'key'>
): string {
  const base = dataset.name.replace(/\/+$/, '').split('/').pop() || 'dataset';
  return isStore(dataset) ? `${base}.zip` : base;
}

/**
 * Where a store's root lies among relative paths: '' at the top, 'folder/' in a
 * single top folder, null if they hold no Zarr store (as the server reads an archive).
 */
export function storeRoot(paths: readonly string[]): string | null {
  const files = paths.filter(p => p && !p.endsWith('/'));
  if (files.some(p => ROOT_MARKERS.includes(p))) {
    return '';
  }
  const tops = new Set(files.map(p => p.split('/')[0]));
  if (tops.size === 1) {
    const [top] = tops;
    if (ROOT_MARKERS.some(marker => files.includes(`${top}/${marker}`))) {
      return `${top}/`;
    }
  }
  return null;
}

/** Refuse a folder whose files make no Zarr store at its top, or that a ZIP cannot hold. */
export function checkStore(
  folder: Pick<IFolder, 'name' | 'hint'>,
  files: readonly IFolderFile[]
): void {
  if (!files.some(file => ROOT_MARKERS.includes(file.path))) {
    const hint = folder.hint ? ` ${folder.hint}` : '';
    throw new StoreError(
      `“${folder.name}” is no Zarr store (no zarr.json, .zgroup or .zarray at its top): ` +
        `only a Zarr store’s folder uploads as one dataset.${hint}`
    );
  }
  const bytes = files.reduce((sum, file) => sum + file.size, 0);
  if (files.length > MAX_ZIP_FILES || bytes > MAX_ZIP_BYTES) {
    throw new StoreError(
      `“${folder.name}” is too big to zip in the browser (over ${MAX_ZIP_FILES} files or 4 GB): ` +
        'upload it from a notebook with %nagel upload.'
    );
  }
}

/**
 * A store's files as a ZIP archive of stored members under `top/`, in path
 * order; `onProgress` is told the bytes of files zipped so far and their total.
 * Stops with an AbortError when `signal` is aborted.
 */
export async function zipStore(
  top: string,
  files: readonly IFolderFile[],
  onProgress?: (done: number, total: number) => void,
  signal?: AbortSignal
): Promise<Blob> {
  const sorted = [...files].sort((a, b) =>
    a.path < b.path ? -1 : a.path > b.path ? 1 : 0
  );
  const total = sorted.reduce((sum, file) => sum + file.size, 0);
  let archive = new Blob([], { type: ZIP_MIME_TYPE });
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let failure: Error | null = null;
  let ended = false;
  const fold = () => {
    archive = new Blob([archive, ...pending], { type: ZIP_MIME_TYPE });
    pending = [];
    pendingBytes = 0;
  };
  const zip = new Zip((error, chunk, final) => {
    if (error) {
      failure = error;
      return;
    }
    pending.push(chunk);
    pendingBytes += chunk.length;
    ended = final;
  });
  const prefix = top.replace(/\/+$/, '');
  let done = 0;
  onProgress?.(0, total);
  for (const file of sorted) {
    if (signal?.aborted) {
      zip.terminate();
      throw new DOMException('the zipping was cancelled', 'AbortError');
    }
    const member = new ZipPassThrough(
      prefix ? `${prefix}/${file.path}` : file.path
    );
    zip.add(member);
    const blob = await file.read();
    if (blob.size === 0) {
      member.push(new Uint8Array(0), true);
    }
    for (let start = 0; start < blob.size; start += SLICE) {
      const end = Math.min(start + SLICE, blob.size);
      member.push(await bytesOf(blob.slice(start, end)), end === blob.size);
      done += end - start;
      onProgress?.(done, total);
      if (pendingBytes >= FOLD) {
        fold();
      }
    }
    if (failure) {
      throw failure;
    }
  }
  zip.end();
  if (failure || !ended) {
    throw failure ?? new Error('the archive did not end');
  }
  fold();
  return archive;
}

/** A blob's bytes (through FileReader where Blob has no arrayBuffer(), as in jsdom). */
export function bytesOf(blob: Blob): Promise<Uint8Array> {
  if (typeof blob.arrayBuffer === 'function') {
    return blob.arrayBuffer().then(buffer => new Uint8Array(buffer));
  }
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(new Uint8Array(reader.result as ArrayBuffer));
    reader.onerror = () => reject(reader.error);
    reader.readAsArrayBuffer(blob);
  });
}

/** What the walk uses of the File and Directory Entries API. */
export interface IEntry {
  readonly name: string;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
}

export interface IFileEntry extends IEntry {
  file(resolve: (file: File) => void, reject?: (error: Error) => void): void;
}

export interface IDirectoryEntry extends IEntry {
  createReader(): {
    readEntries(
      resolve: (entries: IEntry[]) => void,
      reject?: (error: Error) => void
    ): void;
  };
}

/** What a drop offers (a DataTransfer): its items, with entries where the browser has them, and its files. */
export interface IDrop {
  readonly items?: ArrayLike<{
    readonly kind: string;
    webkitGetAsEntry(): IEntry | null;
    getAsFile(): File | null;
  }>;
  readonly files: ArrayLike<File>;
}

/** What a drop carries, in its order: files as they are, folders to walk. */
export function droppedItems(transfer: IDrop): (File | IFolder)[] {
  // Entries must be taken while the drop event runs: the items are gone after it.
  const items = Array.from(transfer.items ?? []).filter(
    item => item.kind === 'file'
  );
  if (items.length === 0 || typeof items[0].webkitGetAsEntry !== 'function') {
    return Array.from(transfer.files);
  }
  const found: (File | IFolder)[] = [];
  for (const item of items) {
    const entry = item.webkitGetAsEntry();
    if (entry?.isDirectory) {
      found.push(entryFolder(entry as IDirectoryEntry));
    } else {
      const file = item.getAsFile();
      if (file) {
        found.push(file);
      }
    }
  }
  return found;
}

/** A dropped folder, walked through the File and Directory Entries API. */
export function entryFolder(root: IDirectoryEntry): IFolder {
  const walk = async (
    directory: IDirectoryEntry,
    below: string
  ): Promise<IFolderFile[]> => {
    const files: IFolderFile[] = [];
    for (const entry of await allEntries(directory)) {
      const path = below + entry.name;
      if (entry.isDirectory) {
        files.push(...(await walk(entry as IDirectoryEntry, `${path}/`)));
      } else if (entry.isFile) {
        const file = await new Promise<File>((resolve, reject) =>
          (entry as IFileEntry).file(resolve, reject)
        );
        files.push({ path, size: file.size, read: async () => file });
      }
    }
    return files;
  };
  return { name: root.name, files: () => walk(root, '') };
}

/** Every entry of a directory: a reader answers in batches (of 100 in Chrome) until an empty one. */
async function allEntries(directory: IDirectoryEntry): Promise<IEntry[]> {
  const reader = directory.createReader();
  const entries: IEntry[] = [];
  for (;;) {
    const batch = await new Promise<IEntry[]>((resolve, reject) =>
      reader.readEntries(resolve, reject)
    );
    if (batch.length === 0) {
      return entries;
    }
    entries.push(...batch);
  }
}

/**
 * The folders chosen with a folder picker (`<input webkitdirectory>`): its files
 * carry their path from the chosen folder on (`model.zarr/zarr.json`).
 */
export function pickedFolders(files: readonly File[]): IFolder[] {
  const folders = new Map<string, IFolderFile[]>();
  for (const file of files) {
    const relative = file.webkitRelativePath || file.name;
    const slash = relative.indexOf('/');
    const [name, path] =
      slash < 0
        ? ['', relative]
        : [relative.slice(0, slash), relative.slice(slash + 1)];
    if (!folders.has(name)) {
      folders.set(name, []);
    }
    folders.get(name)!.push({ path, size: file.size, read: async () => file });
  }
  return [...folders].map(([name, found]) => ({
    name: name || 'folder',
    files: async () => found
  }));
}

/** Said of a folder of Lab's file browser that is not a store: Zarr v2 metadata is hidden there. */
export const HIDDEN_HINT =
  'A Zarr v2 store keeps .zgroup and .zarray in hidden files, which Jupyter’s file browser does ' +
  'not read unless ContentsManager.allow_hidden is set: drop the folder on the Nagelfluh panel ' +
  'instead, or use %nagel upload.';

/** A folder of the Jupyter server's files, walked and read through the contents API. */
export function contentsFolder(
  contents: Pick<Contents.IManager, 'get'>,
  path: string
): IFolder {
  const name = path.replace(/\/+$/, '').split('/').pop() || path;
  const walk = async (
    directory: string,
    below: string
  ): Promise<IFolderFile[]> => {
    const listing = await contents.get(directory, {
      type: 'directory',
      content: true
    });
    const files: IFolderFile[] = [];
    for (const item of (listing.content ?? []) as Contents.IModel[]) {
      const relative = below + item.name;
      if (item.type === 'directory') {
        files.push(...(await walk(item.path, `${relative}/`)));
      } else {
        files.push({
          path: relative,
          size: item.size ?? 0,
          read: async () =>
            // A file in base64, even a notebook: the bytes as they are.
            blobOfContents(
              await contents.get(item.path, {
                type: 'file',
                format: 'base64',
                content: true
              })
            )
        });
      }
    }
    return files;
  };
  // Only a folder named like a store gets the hint: another one is just not a store.
  const hint = /\.zarr$/i.test(name) ? HIDDEN_HINT : undefined;
  return { name, files: () => walk(path, ''), hint };
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
