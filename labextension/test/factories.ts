/**
 * Records as the API returns them, for the specs: every field filled with a
 * plain default, so that a test names only the fields it is about.
 */
import { Contents } from '@jupyterlab/services';
import {
  IDataset,
  IProcess,
  IProcessType,
  IProvenance,
  IVersion
} from '../src/api';

/** A dataset; one with a `process` is that process's output of version 1 unless `extra` says otherwise. */
export function makeDataset(
  id: number,
  process: number | null = null,
  extra: Partial<IDataset> = {}
): IDataset {
  return {
    id,
    project: 1,
    name: `data${id}`,
    key: '',
    mime_type: 'application/json',
    size: 1,
    digest: null,
    created: 0,
    process,
    version: process === null ? null : 1,
    title: null,
    variables: [],
    dims: {},
    metadata: {},
    ...extra
  };
}

/** Version `n` of `process`: completed, no inputs or outputs, unless `extra` says otherwise. */
export function makeVersion(
  process: number,
  n: number,
  extra: Partial<IVersion> = {}
): IVersion {
  return {
    process,
    version: n,
    state: 'completed',
    reason: null,
    message: null,
    progress: 0,
    parameters: {},
    resources: { cpu: 1, memory: '512Mi', deadline_seconds: 60 },
    created: 0,
    started: null,
    finished: null,
    cost: { estimated: 0, actual: null },
    inputs: [],
    outputs: [],
    output_count: 0,
    log_lines: 0,
    cached_from: null,
    rerun_of: null,
    reproducibility: null,
    provenance: null,
    ...extra
  };
}

export function makeProcess(
  id: number,
  type: string,
  versions: IVersion[] = [],
  extra: Partial<IProcess> = {}
): IProcess {
  return {
    id,
    project: 1,
    type,
    name: `${type}-${id}`,
    created: 0,
    versions,
    ...extra
  };
}

/** A model of Lab's contents API: a file named after the end of its path unless `fields` say otherwise. */
export function makeContentsModel(
  fields: Partial<Contents.IModel> & Pick<Contents.IModel, 'path'>
): Contents.IModel {
  return {
    name: fields.path.split('/').pop() ?? '',
    type: 'file',
    writable: true,
    created: '',
    last_modified: '',
    mimetype: '',
    content: null,
    format: null,
    ...fields
  };
}

/** A provenance record of a local run of `synthetic-signal` that completed, unless `extra` says otherwise. */
export function makeProvenance(extra: Partial<IProvenance> = {}): IProvenance {
  return {
    process_type: { name: 'synthetic-signal', version: null, cacheable: true },
    runner_version: null,
    environment: {
      name: 'bootstrap',
      image: null,
      digest: null,
      image_digest: null,
      python: null
    },
    parameters: {},
    inputs: [],
    resources: { cpu: 1, memory: '512Mi', deadline_seconds: 60 },
    executor: 'local',
    started: 0,
    finished: 1,
    exit_code: 0,
    outputs: [],
    cache: { status: 'miss', key: null, reason: null },
    ...extra
  };
}

/** A process type: packaged (the installation's) unless `extra` says otherwise. */
export function makeType(
  name: string,
  extra: Partial<IProcessType> = {}
): IProcessType {
  return {
    name,
    title: name,
    description: '',
    environment: 'bootstrap',
    schema: { type: 'object', properties: {} },
    version: null,
    cacheable: true,
    project: null,
    kind: 'package',
    revision: null,
    source: null,
    retired: null,
    ...extra
  };
}

/** Revision `revision` of project 1's notebook type registered from `path`. */
export function makeNotebookType(
  name: string,
  revision: number,
  path: string | null = `${name}.ipynb`,
  extra: Partial<IProcessType> = {}
): IProcessType {
  const digest = `sha256:${String(revision).repeat(64)}`;
  return makeType(name, {
    project: 1,
    kind: 'notebook',
    revision,
    version: digest,
    source: { path, digest },
    ...extra
  });
}
