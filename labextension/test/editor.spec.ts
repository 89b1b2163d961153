import { describe, expect, it } from 'vitest';
import { RJSFSchema } from '@rjsf/utils';
import { ApiError, IComparison, IDataset, IVersion } from '../src/api';
import {
  compareRows,
  defaultPair,
  flatten,
  formatValue,
  pathLabel
} from '../src/editor/compare';
import {
  mapServerErrors,
  pruneErrors,
  readableError,
  toErrorSchema
} from '../src/editor/errors';
import { datasetOptions, pickDataset } from '../src/editor/picker';
import { draftOf, parseResources } from '../src/editor/resources';
import { formatDuration, runTime, toDate } from '../src/editor/format';
import {
  DATASET_WIDGET,
  defaultName,
  idOfPointer,
  initialParameters,
  itemTitle,
  parseDatasetRef,
  pointerOfId,
  setPointer,
  uiSchemaFor,
  validateParameters
} from '../src/editor/schema';
import { valueAt } from '../src/pointer';
import { makeDataset, makeProcess, makeVersion } from './factories';
import bootstrap from './fixtures/process-types.json';

/**
 * The schema of a bootstrap type. The fixture's JSON is typed by its literal
 * contents (types differ in their properties), so it is read as plain data.
 */
const schemaOf = (name: string): RJSFSchema => {
  const types: readonly { name: string; schema: object }[] = bootstrap;
  const found = types.find(type => type.name === name);
  if (!found) {
    throw new Error(`no bootstrap type ${name}`);
  }
  return found.schema;
};

/** A hand-made schema with dataset fields nested in objects, arrays and tuples, behind a $ref. */
const nested: RJSFSchema = {
  type: 'object',
  $defs: {
    input: { type: 'string', format: 'nagelfluh-dataset', title: 'Input' }
  },
  properties: {
    label: { type: 'string', default: 'x' },
    source: {
      type: 'object',
      properties: {
        data: { $ref: '#/$defs/input' },
        weight: { type: 'number', minimum: 0, default: 1 }
      },
      required: ['data']
    },
    layers: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          model: { type: 'string', format: 'nagelfluh-dataset' },
          depth: { type: 'number' }
        }
      }
    },
    pair: {
      type: 'array',
      items: [
        { type: 'string' },
        { type: 'string', format: 'nagelfluh-dataset' }
      ]
    }
  }
};

describe('form generation from a type schema', () => {
  it('draws dataset fields of the bootstrap types with the dataset picker', () => {
    expect(uiSchemaFor(schemaOf('fft'))).toEqual({
      signal: { 'ui:widget': DATASET_WIDGET }
    });
    expect(uiSchemaFor(schemaOf('inversion'))).toEqual({
      survey: { 'ui:widget': DATASET_WIDGET }
    });
  });

  it('leaves plain fields to rjsf’s default widgets and names list entries after their list', () => {
    expect(uiSchemaFor(schemaOf('sleep'))).toEqual({});
    expect(uiSchemaFor(schemaOf('synthetic-signal'))).toEqual({
      components: { items: { 'ui:title': 'Component' } }
    });
    expect(uiSchemaFor(schemaOf('synthetic-survey'))).toEqual({
      bodies: { items: { 'ui:title': 'Buried sphere' } }
    });
    expect(itemTitle('Categories')).toBe('Category');
    expect(itemTitle('Glass')).toBe('Glass');
    expect(itemTitle(undefined)).toBe('Item');
  });

  it('finds dataset fields inside nested objects, array items, tuples and $refs', () => {
    expect(uiSchemaFor(nested)).toEqual({
      source: { data: { 'ui:widget': DATASET_WIDGET } },
      layers: {
        items: { 'ui:title': 'Item', model: { 'ui:widget': DATASET_WIDGET } }
      },
      pair: { items: [{}, { 'ui:widget': DATASET_WIDGET }] }
    });
  });

  it('starts a new process from the type’s defaults, nested arrays included', () => {
    const data = initialParameters(schemaOf('synthetic-signal'));
    expect(data.duration).toBe(10);
    expect(data.units).toBe('mm/s');
    expect(data.components).toHaveLength(3);
    expect(valueAt(data, '/components/1/frequency')).toBe(12.5);
    expect(initialParameters(schemaOf('fft'))).toMatchObject({
      window: 'hann',
      detrend: true
    });
  });

  it('names a new process after its type with the next free counter', () => {
    expect(defaultName('fft', [])).toBe('fft-1');
    expect(defaultName('fft', ['fft-1', 'fft-3', 'sleep-7', 'my fft'])).toBe(
      'fft-4'
    );
    expect(
      defaultName('synthetic-signal', [
        'synthetic-signal-2',
        'synthetic-signal-x'
      ])
    ).toBe('synthetic-signal-3');
  });
});

describe('field ids and JSON pointers', () => {
  it('maps rjsf ids to pointers even when property names contain the separator', () => {
    const signal = schemaOf('synthetic-signal');
    expect(pointerOfId('root_sample_rate', signal)).toBe('/sample_rate');
    expect(pointerOfId('root_noise_level', signal)).toBe('/noise_level');
    expect(pointerOfId('root_components_2_phase', signal)).toBe(
      '/components/2/phase'
    );
    expect(pointerOfId('root_signal', schemaOf('fft'))).toBe('/signal');
    expect(pointerOfId('root_source_data', nested)).toBe('/source/data');
    expect(pointerOfId('root_layers_0_model', nested)).toBe('/layers/0/model');
    expect(pointerOfId('root_pair_1', nested)).toBe('/pair/1');
    expect(pointerOfId('root_nothing', nested)).toBeNull();
  });

  it('prefers the property name that makes the whole id valid', () => {
    const schema: RJSFSchema = {
      type: 'object',
      properties: {
        a: { type: 'object', properties: { b_c: { type: 'string' } } },
        a_b: { type: 'object', properties: { c: { type: 'string' } } }
      }
    };
    expect(pointerOfId('root_a_b_c', schema)).toBe('/a_b/c');
    expect(idOfPointer('/components/0/frequency')).toBe(
      'root_components_0_frequency'
    );
  });

  it('sets values at a pointer without touching the original', () => {
    const data = {
      components: [{ frequency: 1 }, { frequency: 2 }],
      signal: 'dataset:1'
    };
    const changed = setPointer(data, '/components/1/frequency', 9);
    expect(changed.components[1].frequency).toBe(9);
    expect(data.components[1].frequency).toBe(2);
    expect(Array.isArray(changed.components)).toBe(true);
    expect(setPointer({}, '/source/data', 'dataset:4')).toEqual({
      source: { data: 'dataset:4' }
    });
  });
});

describe('validation before submit', () => {
  const cases: {
    name: string;
    schema: RJSFSchema;
    valid: Record<string, unknown>[];
    invalid: [Record<string, unknown>, string][];
  }[] = [
    {
      name: 'synthetic-signal',
      schema: schemaOf('synthetic-signal'),
      valid: [
        initialParameters(schemaOf('synthetic-signal')),
        { duration: 1, components: [] }
      ],
      invalid: [
        [{ duration: -1 }, '/duration'],
        [{ duration: 0 }, '/duration'],
        [{ sample_rate: 'fast' }, '/sample_rate'],
        [{ components: [{ frequency: 1, phase: 10 }] }, '/components/0/phase'],
        [{ units: '' }, '/units'],
        [{ seed: 1.5 }, '/seed']
      ]
    },
    {
      name: 'fft',
      schema: schemaOf('fft'),
      valid: [
        { signal: 'dataset:12' },
        { signal: 'dataset:1', window: 'none', detrend: false }
      ],
      invalid: [
        [{}, '/signal'],
        [{ signal: 'dataset:abc' }, '/signal'],
        [{ signal: 'dataset:0' }, '/signal'],
        [{ signal: '12' }, '/signal'],
        [{ signal: 'dataset:1', window: 'square' }, '/window']
      ]
    },
    {
      name: 'synthetic-survey',
      schema: schemaOf('synthetic-survey'),
      valid: [initialParameters(schemaOf('synthetic-survey'))],
      invalid: [
        [{ lat_min: 91 }, '/lat_min'],
        [{ nx: 1 }, '/nx'],
        [{ bodies: [{ depth: 0 }] }, '/bodies/0/depth']
      ]
    },
    {
      name: 'nested',
      schema: nested,
      valid: [
        {
          source: { data: 'dataset:2' },
          layers: [{ model: 'dataset:3' }],
          pair: ['a', 'dataset:4']
        }
      ],
      invalid: [
        [{ source: {} }, '/source/data'],
        [{ source: { data: 'dataset:2', weight: -1 } }, '/source/weight'],
        [
          { layers: [{ model: 'dataset:3' }, { model: 'nope' }] },
          '/layers/1/model'
        ]
      ]
    }
  ];

  for (const { name, schema, valid, invalid } of cases) {
    it(`accepts valid ${name} parameters and puts each error on its field`, () => {
      for (const data of valid) {
        expect(validateParameters(schema, data)).toEqual([]);
      }
      for (const [data, pointer] of invalid) {
        const errors = validateParameters(schema, data);
        expect(errors.map(error => error.path)).toContain(pointer);
        expect(errors.every(error => error.message.length > 0)).toBe(true);
      }
    });
  }

  it('reads dataset references exactly as the server does', () => {
    expect(parseDatasetRef('dataset:42')).toBe(42);
    expect(parseDatasetRef('dataset:042')).toBeNull();
    expect(parseDatasetRef('dataset:')).toBeNull();
    expect(parseDatasetRef(42)).toBeNull();
  });
});

describe('server refusals on the fields', () => {
  const fft = schemaOf('fft');
  const signal = schemaOf('synthetic-signal');

  it('puts parameter errors on their fields, with or without the /parameters prefix', () => {
    const mapped = mapServerErrors(
      [
        {
          path: '/parameters/components/1/frequency',
          message: '-1 is less than the minimum of 0'
        },
        { path: '/duration', message: 'must be > 0' }
      ],
      signal
    );
    expect(mapped.parameters).toEqual([
      {
        path: '/components/1/frequency',
        message: '-1 is less than the minimum of 0'
      },
      { path: '/duration', message: 'must be > 0' }
    ]);
    expect(toErrorSchema(mapped.parameters)).toEqual({
      components: {
        1: { frequency: { __errors: ['-1 is less than the minimum of 0'] } }
      },
      duration: { __errors: ['must be > 0'] }
    });
  });

  it('shows a missing required property on that property, where the server reports it', () => {
    const mapped = mapServerErrors(
      [
        {
          path: '/parameters/signal',
          message: "'signal' is a required property"
        }
      ],
      fft
    );
    expect(mapped.parameters).toEqual([
      { path: '/signal', message: "'signal' is a required property" }
    ]);
  });

  it('finds a field whose name holds / or ~ by its escaped pointer', () => {
    const mapped = mapServerErrors(
      [{ path: '/parameters/a~1b~0c', message: 'is wrong' }],
      fft
    );
    expect(mapped.parameters).toEqual([
      { path: '/a~1b~0c', message: 'is wrong' }
    ]);
    expect(toErrorSchema(mapped.parameters)).toEqual({
      'a/b~c': { __errors: ['is wrong'] }
    });
  });

  it('shows a nonexistent dataset on the dataset field', () => {
    const mapped = mapServerErrors(
      [
        {
          path: '/parameters/signal',
          message: "dataset 99 does not exist in this process's project"
        }
      ],
      fft
    );
    expect(toErrorSchema(mapped.parameters)).toEqual({
      signal: {
        __errors: ["dataset 99 does not exist in this process's project"]
      }
    });
  });

  it('sends resource, name and other errors to their own places', () => {
    const mapped = mapServerErrors(
      [
        { path: '/resources/cpu', message: '2000 cores exceed the quota of 8' },
        { path: '/resources/memory', message: "unknown unit 'Xi'" },
        { path: '/name', message: 'must be a non-empty string' },
        { path: '/project', message: "'x' is not a valid id" },
        { path: '/resources', message: 'must be an object' }
      ],
      fft
    );
    expect(mapped.parameters).toEqual([]);
    expect(mapped.resources).toEqual({
      cpu: '2000 cores exceed the quota of 8',
      memory: "unknown unit 'Xi'"
    });
    expect(mapped.name).toBe('must be a non-empty string');
    expect(mapped.other).toEqual([
      "project: 'x' is not a valid id",
      'resources: must be an object'
    ]);
  });

  it('puts an error of the whole parameters object at the form root', () => {
    expect(
      toErrorSchema(
        mapServerErrors(
          [{ path: '/parameters', message: 'must be an object' }],
          fft
        ).parameters
      )
    ).toEqual({
      __errors: ['must be an object']
    });
  });

  it('drops a server error once its field changes, keeps the others', () => {
    const errors = [
      { path: '/duration', message: 'too long' },
      { path: '/components/0/frequency', message: 'too high' }
    ];
    const before = { duration: 5, components: [{ frequency: 99 }] };
    const after = { duration: 6, components: [{ frequency: 99 }] };
    expect(pruneErrors(errors, before, after)).toEqual([errors[1]]);
  });

  it('writes every failure as a sentence, never a stack trace', () => {
    const balance = new ApiError(
      402,
      'insufficient_balance',
      'insufficient balance: this run may cost 36 credits but only 2 are available',
      { estimated: 36, balance: 2 }
    );
    expect(readableError(balance)).toBe(
      'Insufficient balance: this run may cost 36 credits but only 2 are available'
    );
    expect(
      readableError(new ApiError(404, 'not_found', 'process 9 not found', null))
    ).toBe('Process 9 not found');
    expect(
      readableError(
        new ApiError(0, 'network', 'the server is unreachable: TypeError', null)
      )
    ).toMatch(/^The server cannot be reached/);
    const crash = new TypeError('x is undefined');
    expect(readableError(crash)).toBe('X is undefined');
    expect(readableError(crash)).not.toContain('at ');
  });
});

/** Version `n` of process 7 with `parameters`; the compare rows show its resources. */
const version = (
  n: number,
  parameters: Record<string, unknown>,
  extra: Partial<IVersion> = {}
): IVersion =>
  makeVersion(7, n, {
    parameters,
    resources: { cpu: 1, memory: '1Gi', deadline_seconds: 600 },
    ...extra
  });

const dataset = (
  id: number,
  process: number | null,
  v: number | null,
  name = `out-${id}.nc`
): IDataset => makeDataset(id, process, { version: v, name });

describe('compare two versions side by side', () => {
  it('starts from the previous version against the latest, and v1 against itself only when alone', () => {
    expect(defaultPair([1, 2, 3, 4])).toEqual([3, 4]);
    expect(defaultPair([1, 2])).toEqual([1, 2]);
    expect(defaultPair([1])).toEqual([1, 1]);
  });

  const base = initialParameters(schemaOf('synthetic-signal'));

  it('highlights exactly the fields the diff names', () => {
    const a = version(1, base);
    const b = version(
      2,
      setPointer(
        setPointer(base, '/duration', 20),
        '/components/1/amplitude',
        0.7
      ),
      {
        resources: { cpu: 2, memory: '1Gi', deadline_seconds: 600 }
      }
    );
    const comparison: IComparison = {
      process: 7,
      v1: 1,
      v2: 2,
      parameters: [
        { path: '/components/1/amplitude', op: 'changed', old: 0.5, new: 0.7 },
        { path: '/duration', op: 'changed', old: 10, new: 20 }
      ],
      resources: [{ path: '/cpu', op: 'changed', old: 1, new: 2 }],
      equal: false
    };
    const rows = compareRows(a, b, comparison);
    const changed = rows.filter(row => row.op !== null);
    expect(
      changed.map(row => [row.section, row.path, row.left, row.right])
    ).toEqual([
      ['parameters', '/duration', '10', '20'],
      ['parameters', '/components/1/amplitude', '0.5', '0.7'],
      ['resources', '/cpu', '1', '2']
    ]);
    expect(rows.find(row => row.path === '/units')).toMatchObject({
      left: 'mm/s',
      right: 'mm/s',
      op: null
    });
    expect(rows.filter(row => row.section === 'resources')).toHaveLength(3);
  });

  it('highlights every row under an array that changed length as a whole', () => {
    const a = version(1, { duration: 1, components: [{ frequency: 1 }] });
    const b = version(2, {
      duration: 1,
      components: [{ frequency: 1 }, { frequency: 2 }]
    });
    const comparison: IComparison = {
      process: 7,
      v1: 1,
      v2: 2,
      parameters: [{ path: '/components', op: 'changed', old: [], new: [] }],
      resources: [],
      equal: false
    };
    const rows = compareRows(a, b, comparison);
    expect(rows.map(row => [row.path, row.left, row.right, row.op])).toEqual([
      ['/duration', '1', '1', null],
      ['/components/0/frequency', '1', '1', 'changed'],
      ['/components/1/frequency', undefined, '2', 'changed'],
      ['/cpu', '1', '1', null],
      ['/memory', '1Gi', '1Gi', null],
      ['/deadline_seconds', '600', '600', null]
    ]);
  });

  it('shows added and removed fields, and empty values, as their own rows', () => {
    const a = version(1, { variable: '', old: 1 });
    const b = version(2, { variable: '', extra: [] });
    const comparison: IComparison = {
      process: 7,
      v1: 1,
      v2: 2,
      parameters: [
        { path: '/extra', op: 'added', old: null, new: [] },
        { path: '/old', op: 'removed', old: 1, new: null }
      ],
      resources: [],
      equal: false
    };
    const rows = compareRows(a, b, comparison).filter(
      row => row.section === 'parameters'
    );
    expect(rows.map(row => [row.path, row.left, row.right, row.op])).toEqual([
      ['/variable', '""', '""', null],
      ['/old', '1', undefined, 'removed'],
      ['/extra', undefined, '[]', 'added']
    ]);
  });

  it('marks nothing when the versions are equal', () => {
    const comparison: IComparison = {
      process: 7,
      v1: 1,
      v2: 2,
      parameters: [],
      resources: [],
      equal: true
    };
    expect(
      compareRows(version(1, base), version(2, base), comparison).some(
        row => row.op
      )
    ).toBe(false);
  });

  it('labels fields by their path and values as text', () => {
    expect(pathLabel('/components/0/frequency')).toBe(
      'components › 0 › frequency'
    );
    expect(formatValue(true)).toBe('true');
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
    expect(formatValue(undefined)).toBeUndefined();
    expect([...flatten({ a: {}, b: [1] }).keys()]).toEqual(['/a', '/b/0']);
  });
});

describe('dataset picker', () => {
  const signal = makeProcess(
    3,
    'synthetic-signal',
    [
      makeVersion(3, 1, { outputs: [dataset(10, 3, 1)] }),
      makeVersion(3, 2, {
        outputs: [dataset(11, 3, 2, 'signal.nc'), dataset(12, 3, 2)]
      }),
      makeVersion(3, 3, { state: 'running' })
    ],
    { name: 'signal-a' }
  );

  it('lists datasets newest first as "name — process/version"', () => {
    const options = datasetOptions(
      [
        dataset(10, 3, 1),
        dataset(11, 3, 2, 'signal.nc'),
        dataset(20, null, null, 'my.csv')
      ],
      id => (id === 3 ? signal : undefined)
    );
    expect(options).toEqual([
      { value: 'dataset:20', label: 'my.csv — upload' },
      { value: 'dataset:11', label: 'signal.nc — signal-a/v2' },
      { value: 'dataset:10', label: 'out-10.nc — signal-a/v1' }
    ]);
  });

  it('picks the first output of the latest version that has one', () => {
    expect(pickDataset(signal, null)).toEqual({
      dataset: signal.versions[1].outputs[0]
    });
    expect(pickDataset(signal, 1)).toEqual({
      dataset: signal.versions[0].outputs[0]
    });
    expect(pickDataset(signal, 3)).toHaveProperty('error');
    expect(pickDataset({ ...signal, versions: [] }, null)).toHaveProperty(
      'error'
    );
  });
});

describe('resources', () => {
  it('takes cores as numbers, quantities as text, and refuses what cannot run', () => {
    expect(
      parseResources({ cpu: '0.5', memory: '512Mi', deadline: '600' }).resources
    ).toEqual({
      cpu: 0.5,
      memory: '512Mi',
      deadline_seconds: 600
    });
    expect(
      parseResources({ cpu: '500m', memory: '1Gi', deadline: '60' }).resources
        ?.cpu
    ).toBe('500m');
    const bad = parseResources({ cpu: '', memory: ' ', deadline: '1.5' });
    expect(bad.resources).toBeNull();
    expect(Object.keys(bad.errors).sort()).toEqual([
      'cpu',
      'deadline_seconds',
      'memory'
    ]);
    expect(
      parseResources({ cpu: '0', memory: '1Gi', deadline: '0' }).errors
    ).toHaveProperty('cpu');
    expect(draftOf({ cpu: 2, memory: '2Gi', deadline_seconds: 60 })).toEqual({
      cpu: '2',
      memory: '2Gi',
      deadline: '60'
    });
  });
});

describe('version timings', () => {
  it('reads the server’s epoch-second timestamps as well as ISO strings', () => {
    expect(toDate(1700000000)?.toISOString()).toBe('2023-11-14T22:13:20.000Z');
    expect(toDate('2023-11-14T22:13:20Z')?.getTime()).toBe(1700000000000);
    expect(toDate(null)).toBeNull();
  });

  it('shows how long a version ran, or has run so far', () => {
    expect(runTime(1700000000, 1700000012.5)).toBe('13 s');
    expect(runTime(1700000000, null, new Date(1700000090000))).toBe(
      '1 min 30 s so far'
    );
    expect(runTime(null, null)).toBe('—');
    expect(formatDuration(3.25)).toBe('3.3 s');
    expect(formatDuration(7260)).toBe('2 h 1 min');
  });
});
