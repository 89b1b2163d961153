import { afterEach, describe, expect, it } from 'vitest';
import * as React from 'react';
import { act } from 'react';
import { Root, createRoot } from 'react-dom/client';
import { RJSFSchema } from '@rjsf/utils';
import { IProvenance, IVersionRef } from '../src/api';
import { readableError } from '../src/editor/errors';
import {
  cacheChoice,
  cacheField,
  parameterRows,
  provenanceFacts,
  reproducibilityText,
  rerunBlocked,
  shortDigest
} from '../src/editor/provenance';
import { ProvenanceDetails, VersionOrigin } from '../src/editor/versiondetails';
import { makeProvenance, makeVersion } from './factories';
import { clientServedBy } from './fakes';

const DIGEST = `sha256:${'ab12'.repeat(16)}`;
const OTHER = `sha256:${'9f'.repeat(32)}`;

/** The synthetic-signal schema as far as these specs need it. */
const SIGNAL: RJSFSchema = {
  type: 'object',
  properties: {
    duration: { type: 'number', default: 10 },
    seed: { type: 'integer', default: 0 },
    units: { type: 'string', default: 'mm/s' }
  }
};

(
  globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }
).IS_REACT_ACT_ENVIRONMENT = true;

let root: Root | null = null;

/** Render an element into a fresh container of the document; the container. */
function render(element: React.ReactElement): HTMLElement {
  const container = document.createElement('div');
  document.body.appendChild(container);
  root = createRoot(container);
  act(() => root?.render(element));
  return container;
}

afterEach(() => {
  act(() => root?.unmount());
  root = null;
  document.body.innerHTML = '';
});

describe('provenance in words', () => {
  it('shortens digests to sha256 and 12 hex digits, and says when there is none', () => {
    expect(shortDigest(DIGEST)).toBe('sha256:ab12ab12ab12');
    expect(shortDigest(null)).toBe('no digest');
    expect(shortDigest('md5:xyz')).toBe('md5:xyz');
  });

  it('lists type and version, runner, environment with its digest, executor, resources, exit status and cache', () => {
    const provenance = makeProvenance({
      process_type: { name: 'fft', version: OTHER, cacheable: true },
      runner_version: '0.1.0',
      environment: {
        name: 'bootstrap',
        image: null,
        digest: DIGEST,
        image_digest: null,
        python: 'CPython 3.11.2'
      },
      executor: 'local',
      exit_code: 0,
      cache: { status: 'miss', key: DIGEST, reason: null }
    });
    const facts = Object.fromEntries(
      provenanceFacts(provenance).map(fact => [fact.label, fact.value])
    );
    expect(facts).toMatchObject({
      'Process type': 'fft sha256:9f9f9f9f9f9f',
      Runner: '0.1.0',
      Environment: 'bootstrap · CPython 3.11.2 · sha256:ab12ab12ab12',
      Executor: 'local',
      Resources: '1 CPU · 512Mi · deadline 60 s',
      'Exit status': '0 (success)',
      Cache: 'miss (ran)'
    });
  });

  it('says a cache hit ran nothing, and why it hit', () => {
    const facts = provenanceFacts(
      makeProvenance({
        started: null,
        exit_code: null,
        cache: {
          status: 'hit',
          key: DIGEST,
          reason: 'same work as process 4 version 1'
        }
      })
    );
    const value = (label: string) =>
      facts.find(fact => fact.label === label)?.value;
    expect(value('Ran')).toBe('did not run');
    expect(value('Exit status')).toBe('none (nothing ran)');
    expect(value('Cache')).toBe(
      'hit (outputs reused): same work as process 4 version 1'
    );
  });

  it('names the image a Kubernetes run was asked for and the digest its pod ran when they differ', () => {
    const facts = provenanceFacts(
      makeProvenance({
        executor: 'kubernetes',
        environment: {
          name: 'geo',
          image: 'registry/geo:1',
          digest: DIGEST,
          image_digest: OTHER,
          python: null
        }
      })
    );
    expect(facts.find(fact => fact.label === 'Environment')?.value).toBe(
      'geo · registry/geo:1 · sha256:ab12ab12ab12 · ran sha256:9f9f9f9f9f9f'
    );
  });

  it('marks the parameters that kept the type’s default, and nothing without the schema', () => {
    const parameters = { duration: 2, seed: 0, units: 'mm/s' };
    expect(parameterRows(parameters, SIGNAL)).toEqual([
      { path: '/duration', label: 'duration', value: '2', isDefault: false },
      { path: '/seed', label: 'seed', value: '0', isDefault: true },
      { path: '/units', label: 'units', value: 'mm/s', isDefault: true }
    ]);
    expect(
      parameterRows(parameters, undefined).some(row => row.isDefault)
    ).toBe(false);
  });

  it('says whether a re-run’s outputs are identical, which differ, or that it is pending', () => {
    expect(reproducibilityText({ state: 'pending', differing: [] })).toBe(
      'reproducibility: pending'
    );
    expect(reproducibilityText({ state: 'identical', differing: [] })).toBe(
      'identical outputs'
    );
    expect(
      reproducibilityText({
        state: 'differs',
        differing: ['signal.nc', 'spectrum.csv']
      })
    ).toBe('differs: signal.nc, spectrum.csv');
    expect(reproducibilityText({ state: 'failed', differing: [] })).toBe(
      'not compared: the re-run failed'
    );
  });
});

describe('the "Use cached results" box', () => {
  const type = { name: 'fft', cacheable: true, version: DIGEST };

  it('sends cache: false only when unchecked for a type whose results are cached', () => {
    const choice = cacheChoice(type);
    expect(choice.enabled).toBe(true);
    expect(cacheField(true, choice)).toEqual({});
    expect(cacheField(false, choice)).toEqual({ cache: false });
  });

  it('is disabled, saying why, for a type that opted out of the cache or whose version is unknown', () => {
    const sleep = cacheChoice({
      name: 'sleep',
      cacheable: false,
      version: DIGEST
    });
    expect(sleep.enabled).toBe(false);
    expect(sleep.hint).toMatch(/^sleep always runs: .*never reused$/);
    expect(cacheField(false, sleep)).toEqual({});
    const old = cacheChoice({ ...type, version: null });
    expect(old.enabled).toBe(false);
    expect(old.hint).toMatch(/does not report the type's version/);
  });
});

describe('re-run exactly', () => {
  it('is offered for an ended version with a provenance record only, saying why not otherwise', () => {
    expect(
      rerunBlocked(makeVersion(1, 1, { provenance: makeProvenance() }))
    ).toBeNull();
    expect(
      rerunBlocked(
        makeVersion(1, 1, { state: 'failed', provenance: makeProvenance() })
      )
    ).toBeNull();
    expect(
      rerunBlocked(
        makeVersion(1, 1, { state: 'running', provenance: makeProvenance() })
      )
    ).toMatch(/it is running/);
    expect(rerunBlocked(makeVersion(1, 1))).toMatch(/restore it instead/);
  });

  it('posts to the version’s rerun route and shows a refusal as the server’s message', async () => {
    const requests: { method: string; path: string }[] = [];
    const client = clientServedBy(request => {
      requests.push({
        method: request.method,
        path: new URL(request.url).pathname
      });
      return new Response(
        JSON.stringify({
          error: {
            code: 'conflict',
            message:
              'version 2 has no provenance record (it ran before they were kept): restore it instead',
            details: { state: 'completed', reason: null }
          }
        }),
        { status: 409 }
      );
    });
    const refusal = await client.rerun(7, 2).catch((error: unknown) => error);
    expect(requests).toEqual([
      {
        method: 'POST',
        path: '/nagelfluh/api/process/7/versions/2/rerun'
      }
    ]);
    expect(readableError(refusal)).toBe(
      'Version 2 has no provenance record (it ran before they were kept): restore it instead'
    );
  });
});

describe('a version row’s origin and details', () => {
  it('shows a cache hit as a link that selects the version it reused', () => {
    const selected: IVersionRef[] = [];
    const container = render(
      React.createElement(VersionOrigin, {
        version: makeVersion(5, 2, { cached_from: { process: 4, version: 1 } }),
        onSelect: ref => selected.push(ref)
      })
    );
    const link = container.querySelector<HTMLButtonElement>(
      '[data-testid="nf-cached-from"]'
    );
    expect(link?.textContent).toBe('cached from process 4 v1');
    act(() => link?.click());
    expect(selected).toEqual([{ process: 4, version: 1 }]);
  });

  it('shows a re-run’s original and which outputs differ', () => {
    const container = render(
      React.createElement(VersionOrigin, {
        version: makeVersion(5, 3, {
          rerun_of: { process: 5, version: 1 },
          reproducibility: { state: 'differs', differing: ['spectrum.csv'] }
        }),
        onSelect: () => undefined
      })
    );
    expect(
      container.querySelector('[data-testid="nf-rerun-of"]')?.textContent
    ).toBe('v1');
    const result = container.querySelector(
      '[data-testid="nf-reproducibility"]'
    );
    expect(result?.getAttribute('data-state')).toBe('differs');
    expect(result?.textContent).toBe('differs: spectrum.csv');
  });

  it('shows nothing for a version that is neither a cache hit nor a re-run', () => {
    const container = render(
      React.createElement(VersionOrigin, {
        version: makeVersion(5, 1),
        onSelect: () => undefined
      })
    );
    expect(container.textContent).toBe('');
  });

  it('lists inputs and outputs by name, dataset id and short digest, and parameters with their defaults', () => {
    const provenance: IProvenance = makeProvenance({
      parameters: { duration: 2, seed: 0 },
      inputs: [
        {
          parameter: '/parameters/signal',
          dataset: 11,
          name: 'signal.nc',
          digest: DIGEST
        }
      ],
      outputs: [{ name: 'spectrum.csv', dataset: 12, digest: OTHER }]
    });
    const container = render(
      React.createElement(ProvenanceDetails, {
        version: makeVersion(5, 1, { provenance }),
        schema: SIGNAL
      })
    );
    const text = (selector: string) =>
      container.querySelector(selector)?.textContent;
    expect(text('[data-testid="nf-provenance-inputs"] li')).toBe(
      'signal.nc (signal) dataset 11 sha256:ab12ab12ab12'
    );
    expect(text('[data-testid="nf-provenance-outputs"] li')).toBe(
      'spectrum.csv dataset 12 sha256:9f9f9f9f9f9f'
    );
    expect(text('tr[data-path="/duration"] td')).toBe('2');
    expect(text('tr[data-path="/seed"] td')).toBe('0 default');
  });

  it('says when a version has no provenance record', () => {
    const container = render(
      React.createElement(ProvenanceDetails, {
        version: makeVersion(5, 1),
        schema: undefined
      })
    );
    expect(container.textContent).toBe(
      'Version 1 ran before provenance was recorded.'
    );
  });
});
