/**
 * How the editor words a version's provenance, its cache decision and, for an
 * exact re-run, its reproducibility: compact enough for a table row, exact
 * enough (digests, versions) to tell two runs apart in the details.
 */
import { RJSFSchema } from '@rjsf/utils';
import {
  IProcessType,
  IProvenance,
  IReproducibility,
  IVersion,
  IVersionRef
} from '../api';
import * as jsonPointer from '../pointer';
import { flatten, formatValue, pathLabel } from './compare';
import { kindText } from '../notebooks';
import { formatTime, runTime } from './format';
import { initialParameters } from './schema';

const DIGEST = /^sha256:([0-9a-f]+)$/;

/** `sha256:` and the first 12 hex digits: enough to tell digests apart at a glance. */
export function shortDigest(digest: string | null | undefined): string {
  if (!digest) {
    return 'no digest';
  }
  const match = DIGEST.exec(digest);
  return match ? `sha256:${match[1].slice(0, 12)}` : digest;
}

/** What the "Use cached results" box of a form can do for a type. */
export interface ICacheChoice {
  /** The box can be unchecked (the type's results are cached at all). */
  enabled: boolean;
  hint: string;
}

export function cacheChoice(
  type: Pick<IProcessType, 'name' | 'cacheable' | 'version'> | undefined
): ICacheChoice {
  if (type && !type.cacheable) {
    return {
      enabled: false,
      hint: `${type.name} always runs: its results are not a function of its parameters and inputs, so they are never reused`
    };
  }
  if (type && type.version === null) {
    return {
      enabled: false,
      hint: `${type.name} always runs: its environment's runner does not report the type's version, so its results are never reused`
    };
  }
  return {
    enabled: true,
    hint: 'Identical work done before completes at once with its outputs; uncheck to run again'
  };
}

/** The `cache` field of a submission: `false` only when the user unchecked a box that applies. */
export function cacheField(
  useCache: boolean,
  choice: ICacheChoice
): { cache?: false } {
  return choice.enabled && !useCache ? { cache: false } : {};
}

/** "process 12 v3": a version named by a `cached_from` or `rerun_of` reference. */
export function refText(ref: IVersionRef): string {
  return `process ${ref.process} v${ref.version}`;
}

/** What a re-run's comparison with its original says, in words. */
export function reproducibilityText(result: IReproducibility): string {
  switch (result.state) {
    case 'pending':
      return 'reproducibility: pending';
    case 'identical':
      return 'identical outputs';
    case 'differs':
      return result.differing.length > 0
        ? `differs: ${result.differing.join(', ')}`
        : 'differs';
    case 'failed':
      return 'not compared: the re-run failed';
  }
}

/** The CSS colour variable of a reproducibility result (the theme's, as the state badges use). */
export function reproducibilityColor(result: IReproducibility): string {
  switch (result.state) {
    case 'identical':
      return 'var(--jp-success-color1)';
    case 'differs':
      return 'var(--jp-warn-color0)';
    case 'failed':
      return 'var(--jp-error-color1)';
    default:
      return 'var(--jp-layout-color3)';
  }
}

/** Whether "Re-run exactly" can apply to a version, or why not (the server answers 409 otherwise). */
export function rerunBlocked(
  version: Pick<IVersion, 'state' | 'provenance'>
): string | null {
  if (version.state !== 'completed' && version.state !== 'failed') {
    return `it is ${version.state}: only a version that ended can be re-run`;
  }
  if (version.provenance === null) {
    return 'it ran before provenance was kept: restore it instead';
  }
  return null;
}

/** One labelled fact of a provenance record. */
export interface IFact {
  label: string;
  value: string;
}

const CACHE_WORDS: Record<IProvenance['cache']['status'], string> = {
  hit: 'hit (outputs reused)',
  miss: 'miss (ran)',
  waiting: 'waiting for identical work',
  bypassed: 'bypassed',
  uncacheable: 'not cached'
};

function exitText(provenance: IProvenance): string {
  const code = provenance.exit_code;
  if (code === null) {
    return provenance.cache.status === 'hit' ? 'none (nothing ran)' : '—';
  }
  return code === 0 ? '0 (success)' : String(code);
}

function environmentText(environment: IProvenance['environment']): string {
  const parts = [environment.name];
  if (environment.image) {
    parts.push(environment.image);
  }
  if (environment.python) {
    parts.push(environment.python);
  }
  parts.push(shortDigest(environment.digest));
  if (
    environment.image_digest &&
    environment.image_digest !== environment.digest
  ) {
    parts.push(`ran ${shortDigest(environment.image_digest)}`);
  }
  return parts.join(' · ');
}

/** The record's scalar facts, in the order a reader checks them. */
export function provenanceFacts(provenance: IProvenance): IFact[] {
  const { process_type: type, resources, cache } = provenance;
  return [
    {
      label: 'Process type',
      value: [
        `${type.name} ${type.version ? shortDigest(type.version) : '(version unknown)'}`,
        kindText(type)
      ]
        .filter(Boolean)
        .join(' · ')
    },
    { label: 'Runner', value: provenance.runner_version ?? 'unknown' },
    {
      label: 'Environment',
      value: environmentText(provenance.environment)
    },
    { label: 'Executor', value: provenance.executor ?? 'unknown' },
    {
      label: 'Resources',
      value: `${resources.cpu} CPU · ${resources.memory} · deadline ${resources.deadline_seconds} s`
    },
    {
      label: 'Ran',
      value: provenance.started
        ? `${formatTime(provenance.started)} → ${formatTime(provenance.finished)} (${runTime(provenance.started, provenance.finished)})`
        : 'did not run'
    },
    { label: 'Exit status', value: exitText(provenance) },
    {
      label: 'Cache',
      value:
        CACHE_WORDS[cache.status] + (cache.reason ? `: ${cache.reason}` : '')
    }
  ];
}

/** A parameter as the details list it: its field, its value, and whether it is the type's default. */
export interface IParameterRow {
  path: string;
  label: string;
  value: string;
  isDefault: boolean;
}

/**
 * The recorded parameters, one row per leaf, marking those that equal the
 * type's default (the record has defaults applied, so a user sees which values
 * they chose). Without the type's schema nothing is marked.
 */
export function parameterRows(
  parameters: Record<string, unknown>,
  schema: RJSFSchema | undefined
): IParameterRow[] {
  const defaults = schema ? initialParameters(schema) : undefined;
  return [...flatten(parameters)].map(([path, value]) => {
    const fallback =
      defaults === undefined ? undefined : jsonPointer.valueAt(defaults, path);
    return {
      path,
      label: pathLabel(path),
      value: formatValue(value) ?? '',
      isDefault:
        fallback !== undefined &&
        JSON.stringify(fallback) === JSON.stringify(value)
    };
  });
}
