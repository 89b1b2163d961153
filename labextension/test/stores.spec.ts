import { describe, expect, it } from 'vitest';
import { Contents } from '@jupyterlab/services';
import { unzipSync } from 'fflate';
import { plottableDatasets } from '../src/plot/datasets';
import {
  IDirectoryEntry,
  IDrop,
  IEntry,
  IFileEntry,
  IFolder,
  IFolderFile,
  HIDDEN_HINT,
  MAX_ZIP_FILES,
  StoreError,
  bytesOf,
  checkStore,
  contentsFolder,
  downloadName,
  droppedItems,
  entryFolder,
  isStore,
  pickedFolders,
  storeRoot,
  zipStore
} from '../src/stores';
import { makeContentsModel, makeDataset } from './factories';

const text = (value: string) => new TextEncoder().encode(value);

/** A Zarr v3 store as xarray writes one: root and array metadata, chunks under c/. */
const V3_TREE: Record<string, string> = {
  'zarr.json': '{"zarr_format": 3, "node_type": "group"}',
  'density/zarr.json': '{"zarr_format": 3, "node_type": "array"}',
  'density/c/0/0': 'chunk-0-0',
  'density/c/0/1': 'chunk-0-1',
  'x/zarr.json': '{"zarr_format": 3, "node_type": "array"}',
  'x/c/0': 'x-chunk'
};

function filesOf(tree: Record<string, string>): IFolderFile[] {
  return Object.entries(tree).map(([path, content]) => {
    const blob = new Blob([content]);
    return { path, size: blob.size, read: async () => blob };
  });
}

/** The members of an archive with their bytes as text and their compression method. */
async function membersOf(archive: Blob): Promise<{
  names: string[];
  methods: number[];
  texts: Record<string, string>;
}> {
  const methods: number[] = [];
  const unpacked = unzipSync(await bytesOf(archive), {
    filter: file => {
      methods.push(file.compression);
      return true;
    }
  });
  const texts = Object.fromEntries(
    Object.entries(unpacked).map(([name, data]) => [
      name,
      new TextDecoder().decode(data)
    ])
  );
  return { names: Object.keys(unpacked).sort(), methods, texts };
}

/** A dropped directory as the File and Directory Entries API shows it, read in batches of two. */
function directoryEntry(
  name: string,
  tree: Record<string, string>
): IDirectoryEntry {
  const children = new Map<string, Record<string, string>>();
  const files: IFileEntry[] = [];
  for (const [path, content] of Object.entries(tree)) {
    const slash = path.indexOf('/');
    if (slash < 0) {
      const file = new File([content], path);
      files.push({
        name: path,
        isFile: true,
        isDirectory: false,
        file: resolve => resolve(file)
      });
    } else {
      const [top, rest] = [path.slice(0, slash), path.slice(slash + 1)];
      children.set(top, { ...(children.get(top) ?? {}), [rest]: content });
    }
  }
  const entries: IEntry[] = [
    ...files,
    ...[...children].map(([child, sub]) => directoryEntry(child, sub))
  ];
  return {
    name,
    isFile: false,
    isDirectory: true,
    createReader: () => {
      let at = 0;
      return {
        readEntries: (resolve: (batch: IEntry[]) => void) => {
          const batch = entries.slice(at, at + 2);
          at += batch.length;
          setTimeout(() => resolve(batch), 0);
        }
      };
    }
  };
}

describe('zipping a Zarr store’s folder', () => {
  it('puts every file under the folder’s name, stored (not deflated), bytes unchanged', async () => {
    const progress: [number, number][] = [];
    const archive = await zipStore(
      'model.zarr',
      filesOf(V3_TREE),
      (done, total) => progress.push([done, total])
    );
    const { names, methods, texts } = await membersOf(archive);
    expect(names).toEqual(
      Object.keys(V3_TREE)
        .map(path => `model.zarr/${path}`)
        .sort()
    );
    expect(new Set(methods)).toEqual(new Set([0]));
    for (const [path, content] of Object.entries(V3_TREE)) {
      expect(texts[`model.zarr/${path}`]).toBe(content);
    }
    expect(archive.type).toBe('application/zip');
    const total = Object.values(V3_TREE).reduce((sum, c) => sum + c.length, 0);
    expect(progress[0]).toEqual([0, total]);
    expect(progress.at(-1)).toEqual([total, total]);
    // what the server looks for: the root in a single top folder
    expect(storeRoot(names)).toBe('model.zarr/');
  });

  it('keeps empty files and Zarr v2’s hidden metadata files', async () => {
    const tree = {
      '.zgroup': '{"zarr_format": 2}',
      '.zattrs': '{}',
      'a/.zarray': '{}',
      'a/0.0': ''
    };
    const { names, texts } = await membersOf(
      await zipStore('v2.zarr', filesOf(tree))
    );
    expect(names).toEqual([
      'v2.zarr/.zattrs',
      'v2.zarr/.zgroup',
      'v2.zarr/a/.zarray',
      'v2.zarr/a/0.0'
    ]);
    expect(texts['v2.zarr/a/0.0']).toBe('');
  });

  it('stops when cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      zipStore('m.zarr', filesOf(V3_TREE), undefined, controller.signal)
    ).rejects.toMatchObject({
      name: 'AbortError'
    });
  });
});

describe('telling a Zarr store from another folder', () => {
  it('takes zarr.json, .zgroup or .zarray at the folder’s top', () => {
    for (const marker of ['zarr.json', '.zgroup', '.zarray']) {
      expect(() =>
        checkStore({ name: 'm.zarr' }, filesOf({ [marker]: '{}', 'a/0': 'x' }))
      ).not.toThrow();
    }
  });

  it('refuses a folder without one at its top, saying what a store is', () => {
    const notes = filesOf({
      'notes.txt': 'calm',
      'day1/stations.csv': 'x,y',
      'inner/zarr.json': '{}'
    });
    expect(() => checkStore({ name: 'field-notes' }, notes)).toThrow(
      StoreError
    );
    expect(() => checkStore({ name: 'field-notes' }, notes)).toThrow(
      '“field-notes” is no Zarr store (no zarr.json, .zgroup or .zarray at its top): ' +
        'only a Zarr store’s folder uploads as one dataset.'
    );
    expect(() => checkStore({ name: 'empty' }, [])).toThrow('is no Zarr store');
    expect(() =>
      checkStore({ name: 'old.zarr', hint: HIDDEN_HINT }, notes)
    ).toThrow(HIDDEN_HINT);
  });

  it('refuses a store a ZIP without ZIP64 cannot hold', () => {
    const many: IFolderFile[] = Array.from(
      { length: MAX_ZIP_FILES },
      (_, i) => ({
        path: `c/${i}`,
        size: 1,
        read: async () => new Blob(['x'])
      })
    );
    many.push(...filesOf({ 'zarr.json': '{}' }));
    expect(() => checkStore({ name: 'huge.zarr' }, many)).toThrow(
      'too big to zip in the browser'
    );
  });

  it('finds the root as the server does: at the top or in one single top folder', () => {
    expect(storeRoot(['zarr.json', 'a/zarr.json'])).toBe('');
    expect(storeRoot(['m.zarr/', 'm.zarr/.zgroup', 'm.zarr/a/.zarray'])).toBe(
      'm.zarr/'
    );
    expect(storeRoot(['one/zarr.json', 'two/zarr.json'])).toBeNull();
    expect(storeRoot(['m.zarr/a/zarr.json'])).toBeNull();
  });
});

describe('walking a folder', () => {
  it('dropped on the panel: every file of the tree, through entry readers that answer in batches', async () => {
    const folder = entryFolder(directoryEntry('model.zarr', V3_TREE));
    expect(folder.name).toBe('model.zarr');
    const files = await folder.files();
    expect(files.map(f => f.path).sort()).toEqual(Object.keys(V3_TREE).sort());
    const { names } = await membersOf(await zipStore(folder.name, files));
    expect(names).toContain('model.zarr/density/c/0/1');
  });

  it('takes a drop’s folders to walk and its files as they are, in the drop’s order', () => {
    const file = new File(['CDF'], 'survey.nc');
    const directory = directoryEntry('model.zarr', V3_TREE);
    const item = (entry: IEntry, asFile: File | null) => ({
      kind: 'file',
      webkitGetAsEntry: () => entry,
      getAsFile: () => asFile
    });
    const transfer: IDrop = {
      items: [
        item({ isDirectory: false, isFile: true, name: 'survey.nc' }, file),
        item(directory, null),
        { kind: 'string', webkitGetAsEntry: () => null, getAsFile: () => null }
      ],
      files: [file]
    };
    const [first, second, ...rest] = droppedItems(transfer);
    expect(first).toBe(file);
    expect((second as IFolder).name).toBe('model.zarr');
    expect(rest).toEqual([]);
    // a browser without entries: the files alone
    expect(droppedItems({ items: [], files: [file] })).toEqual([file]);
  });

  it('chosen with the folder picker: files grouped by the folder their path starts with', async () => {
    const picked = Object.entries(V3_TREE).map(([path, content]) => {
      const file = new File([content], path.split('/').pop()!);
      Object.defineProperty(file, 'webkitRelativePath', {
        value: `model.zarr/${path}`
      });
      return file;
    });
    const [folder, ...more] = pickedFolders(picked);
    expect(more).toEqual([]);
    expect(folder.name).toBe('model.zarr');
    expect((await folder.files()).map(f => f.path).sort()).toEqual(
      Object.keys(V3_TREE).sort()
    );
  });

  it('in Lab’s file browser: listed and read through the contents API', async () => {
    const tree: Record<string, string> = { ...V3_TREE };
    const root = 'work/model.zarr';
    const asked: string[] = [];
    const contents = {
      get: async (path: string, options: Contents.IFetchOptions) => {
        asked.push(`${options.type}:${path}`);
        if (options.type === 'file') {
          const relative = path.slice(root.length + 1);
          return makeContentsModel({
            path,
            format: 'base64',
            content: btoa(tree[relative])
          });
        }
        const below = path === root ? '' : `${path.slice(root.length + 1)}/`;
        const names = new Set<string>();
        const content = [];
        for (const relative of Object.keys(tree).filter(p =>
          p.startsWith(below)
        )) {
          const [name, ...deeper] = relative.slice(below.length).split('/');
          if (!names.has(name)) {
            names.add(name);
            const type = deeper.length > 0 ? 'directory' : 'file';
            const size = type === 'file' ? tree[relative].length : null;
            content.push({ name, path: `${path}/${name}`, type, size });
          }
        }
        return makeContentsModel({ path, type: 'directory', content });
      }
    };
    const folder = contentsFolder(contents, root);
    expect(folder.name).toBe('model.zarr');
    expect(folder.hint).toBe(HIDDEN_HINT); // named like a store: a v2 one may hide its metadata
    expect(contentsFolder(contents, 'work/photos').hint).toBeUndefined();
    const files = await folder.files();
    expect(files.map(f => f.path).sort()).toEqual(Object.keys(V3_TREE).sort());
    expect(asked.every(a => a.startsWith('directory:'))).toBe(true); // files are read when zipped
    const { texts } = await membersOf(await zipStore(folder.name, files));
    expect(texts['model.zarr/density/c/0/0']).toBe('chunk-0-0');
  });
});

describe('stores among datasets', () => {
  const store = makeDataset(4, null, {
    name: 'obs/model.zarr',
    key: '1/uploads/obs/model.zarr/',
    mime_type: 'application/x-zarr',
    variables: [{ name: 'misfit', units: 'mGal', dims: ['distance'] }],
    dims: { distance: 8 }
  });

  it('download as a .zip named after the store; other datasets under their own name', () => {
    expect(isStore(store)).toBe(true);
    expect(downloadName(store)).toBe('model.zarr.zip');
    const file = makeDataset(5, 2, {
      name: 'signal.nc',
      key: '1/processes/2/v1/signal.nc'
    });
    expect(isStore(file)).toBe(false);
    expect(downloadName(file)).toBe('signal.nc');
  });

  it('are offered to plots as NetCDF datasets are', () => {
    expect(plottableDatasets([store]).map(d => d.id)).toEqual([4]);
  });

  it('read bytes as a helper, even where Blob has no arrayBuffer()', async () => {
    expect([...(await bytesOf(new Blob([text('abc')])))]).toEqual([97, 98, 99]);
  });
});
