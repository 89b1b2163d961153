/**
 * Notebooks and functions as process types (issue 13), the parts without a
 * widget: the name a notebook registers under, how a type's kind and revision
 * are worded, what a registration answered in words, and where an executed
 * notebook (an output dataset) is saved in the Lab's files to be opened.
 */
import type { Contents } from '@jupyterlab/services';
import { ApiError, IDataset, IProcessType, ITypeKind } from './api';
import { capitalise } from './editor/errors';

/** The mime type of an executed notebook among a version's outputs (the runner's NOTEBOOK_MIME_TYPE). */
export const NOTEBOOK_MIME_TYPE = 'application/x-ipynb+json';

/** The folder of the Lab's files where executed notebooks are saved to be opened. */
export const RUNS_FOLDER = 'nagelfluh-runs';

/** The server's rule for a type name. */
export const TYPE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * A notebook's file stem made a type name, exactly as the server makes it when
 * no name is given (`%nagel register` too): `My analysis.ipynb` → `My-analysis`
 * (runs of other characters become one `-`, leading `.`, `_`, `-` go, at most
 * 255 characters). Empty if nothing is left.
 */
export function typeNameOfPath(path: string): string {
  const file = path.split('/').pop() ?? '';
  const stem = file.endsWith('.ipynb') ? file.slice(0, -'.ipynb'.length) : file;
  return stem
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[._-]+/, '')
    .slice(0, 255);
}

/** The name the dialog proposes: the notebook's `metadata.nagelfluh.name`, else its file's stem. */
export function defaultTypeName(path: string, metadata: unknown): string {
  const nagelfluh = (metadata as { nagelfluh?: { name?: unknown } } | null)
    ?.nagelfluh;
  return typeof nagelfluh?.name === 'string' && nagelfluh.name
    ? nagelfluh.name
    : typeNameOfPath(path);
}

/** Why a name would be refused, or null. */
export function typeNameProblem(name: string): string | null {
  if (!name) {
    return 'a name is required';
  }
  return TYPE_NAME.test(name)
    ? null
    : 'letters, digits, “.”, “_” and “-” only, starting with a letter or digit';
}

/** A registered type's kind and revision, `notebook · rev 2`; null for a packaged type. */
export function kindText(
  type: { kind?: ITypeKind; revision?: number | null } | undefined
): string | null {
  if (!type?.kind || type.kind === 'package') {
    return null;
  }
  return type.revision ? `${type.kind} · rev ${type.revision}` : type.kind;
}

/** A type as a picker lists it: its title, and a notebook's or function's kind and revision. */
export function typeLabel(type: IProcessType): string {
  const kind = kindText(type);
  const title = type.title || type.name;
  return kind ? `${title} (${kind})` : title;
}

/** Where a notebook or function type comes from, in a sentence; null for a packaged type. */
export function sourceText(type: IProcessType): string | null {
  const kind = kindText(type);
  if (!kind) {
    return null;
  }
  const parts = [`${capitalise(type.kind)} type`];
  if (type.source?.path) {
    parts.push(`from ${type.source.path}`);
  }
  if (type.revision) {
    parts.push(`revision ${type.revision}`);
  }
  return parts.join(', ');
}

/** What the notification says of a registration: a new revision (201), or none (200). */
export function registeredText(registered: {
  type: Pick<IProcessType, 'name' | 'revision'>;
  created: boolean;
}): string {
  const { name, revision } = registered.type;
  const which = revision ? `revision ${revision}` : 'its current revision';
  return registered.created
    ? `Registered process type ${name} (${which})`
    : `Process type ${name} unchanged: identical to ${which}`;
}

/** What the dialog calls the fields a refusal names. */
const FIELD_WORDS: Record<string, string> = {
  '/path': 'Notebook',
  '/notebook': 'Notebook',
  '/name': 'Name',
  '/environment': 'Environment',
  '/project': 'Project'
};

/**
 * Why a registration was refused, as the dialog shows it: each field the
 * server names, in words, with what it says (for a bad notebook, the line of
 * its parameters cell), or the server's message when it names no field.
 */
export function registrationProblem(error: unknown): string {
  if (!(error instanceof ApiError)) {
    return String((error as Error)?.message ?? error);
  }
  if (error.status === 0) {
    return `The server cannot be reached: ${error.message}`;
  }
  const fields = error.fieldErrors;
  if (fields.length === 0) {
    return capitalise(error.message);
  }
  return fields
    .map(({ path, message }) => `${FIELD_WORDS[path] ?? path}: ${message}`)
    .join('\n');
}

/** Whether a dataset is an executed notebook, which the Lab opens with its outputs. */
export function isNotebook(dataset: Pick<IDataset, 'mime_type'>): boolean {
  return dataset.mime_type === NOTEBOOK_MIME_TYPE;
}

/** A name made one safe path segment: no separators, never `.` or `..`. */
function segment(name: string): string {
  const safe = name.replace(/[/\\]+/g, '-').trim();
  return safe === '' || /^\.+$/.test(safe) ? '_' : safe;
}

/** Where an executed notebook is saved: `nagelfluh-runs/<process>-v<version>/<dataset name>`. */
export function executedNotebookPath(
  processName: string,
  version: number,
  datasetName: string
): string {
  return [
    RUNS_FOLDER,
    `${segment(processName)}-v${version}`,
    segment(datasetName)
  ].join('/');
}

/** What opening an executed notebook needs: its bytes, the Lab's contents, and a way to open a path. */
export interface INotebookOpener {
  text(dataset: number): Promise<string>;
  contents: Pick<Contents.IManager, 'save'>;
  open(path: string): Promise<unknown>;
}

/**
 * Save an executed notebook dataset into the Lab's files (its folders made
 * first) and open it, so the user sees it with its outputs; the saved path.
 * Saving again overwrites: a dataset never changes.
 */
export async function openExecutedNotebook(
  opener: INotebookOpener,
  processName: string,
  version: number,
  dataset: Pick<IDataset, 'id' | 'name'>
): Promise<string> {
  const path = executedNotebookPath(processName, version, dataset.name);
  const text = await opener.text(dataset.id);
  let content: unknown;
  try {
    content = JSON.parse(text);
  } catch {
    throw new Error(`dataset ${dataset.id} is not a notebook (not JSON)`);
  }
  const folders = path.split('/').slice(0, -1);
  for (let depth = 1; depth <= folders.length; depth++) {
    await opener.contents.save(folders.slice(0, depth).join('/'), {
      type: 'directory'
    });
  }
  await opener.contents.save(path, {
    type: 'notebook',
    format: 'json',
    content
  });
  await opener.open(path);
  return path;
}
