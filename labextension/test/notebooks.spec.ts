import { describe, expect, it } from 'vitest';
import { Contents } from '@jupyterlab/services';
import { ApiError, IProcessType } from '../src/api';
import { readableError } from '../src/editor/errors';
import { provenanceFacts } from '../src/editor/provenance';
import {
  defaultTypeName,
  executedNotebookPath,
  isNotebook,
  kindText,
  openExecutedNotebook,
  registeredText,
  registrationProblem,
  sourceText,
  typeLabel,
  typeNameOfPath,
  typeNameProblem
} from '../src/notebooks';
import { Selection } from '../src/selection';
import { ProjectStore } from '../src/store';
import {
  makeDataset,
  makeNotebookType,
  makeProvenance,
  makeType
} from './factories';
import { FakeClient, FakeEvents, clientServedBy } from './fakes';

describe('the name a notebook registers under', () => {
  it('is its file stem made a type name, as the server makes it', () => {
    expect(typeNameOfPath('My analysis.ipynb')).toBe('My-analysis');
    expect(typeNameOfPath('work/Gravity (v2).ipynb')).toBe('Gravity-v2-');
    expect(typeNameOfPath('_draft.notes.ipynb')).toBe('draft.notes');
    expect(typeNameOfPath('äöü.ipynb')).toBe('');
  });

  it('is the notebook’s own metadata.nagelfluh.name when it has one', () => {
    expect(
      defaultTypeName('a b.ipynb', { nagelfluh: { name: 'gravity-grid' } })
    ).toBe('gravity-grid');
    expect(defaultTypeName('a b.ipynb', { kernelspec: {} })).toBe('a-b');
    expect(defaultTypeName('a b.ipynb', null)).toBe('a-b');
  });

  it('is refused before sending when the server would refuse it', () => {
    expect(typeNameProblem('gravity-grid.v2')).toBeNull();
    expect(typeNameProblem('')).toBe('a name is required');
    expect(typeNameProblem('-gravity')).toMatch(/starting with a letter/);
    expect(typeNameProblem('gravity grid')).toMatch(/letters, digits/);
  });
});

describe('a type’s kind and revision in words', () => {
  it('marks a notebook or function type with its revision, not a packaged one', () => {
    expect(kindText(makeNotebookType('damped', 2))).toBe('notebook · rev 2');
    expect(
      kindText(makeNotebookType('fit', 1, null, { kind: 'function' }))
    ).toBe('function · rev 1');
    expect(kindText(makeType('fft'))).toBeNull();
    expect(kindText(undefined)).toBeNull();
  });

  it('labels picker options with the title and, for a notebook, kind and revision', () => {
    expect(
      typeLabel(
        makeNotebookType('damped', 3, 'damped.ipynb', { title: 'Damped' })
      )
    ).toBe('Damped (notebook · rev 3)');
    expect(typeLabel(makeType('fft', { title: '' }))).toBe('fft');
  });

  it('says where a notebook type comes from', () => {
    expect(sourceText(makeNotebookType('damped', 2, 'work/damped.ipynb'))).toBe(
      'Notebook type, from work/damped.ipynb, revision 2'
    );
    expect(
      sourceText(makeNotebookType('fit', 1, null, { kind: 'function' }))
    ).toBe('Function type, revision 1');
    expect(sourceText(makeType('fft'))).toBeNull();
  });

  it('shows in the provenance which revision of a notebook type a version ran', () => {
    const provenance = makeProvenance({
      process_type: {
        name: 'damped',
        version: `sha256:${'ab'.repeat(32)}`,
        cacheable: true,
        kind: 'notebook',
        revision: 2
      }
    });
    const fact = provenanceFacts(provenance).find(
      f => f.label === 'Process type'
    );
    expect(fact?.value).toBe('damped sha256:abababababab · notebook · rev 2');
    const packaged = provenanceFacts(makeProvenance()).find(
      f => f.label === 'Process type'
    );
    expect(packaged?.value).toBe('synthetic-signal (version unknown)');
  });
});

describe('what a registration answered', () => {
  it('names the new revision, or the one it is identical to', () => {
    const type = makeNotebookType('damped', 2);
    expect(registeredText({ type, created: true })).toBe(
      'Registered process type damped (revision 2)'
    );
    expect(registeredText({ type, created: false })).toBe(
      'Process type damped unchanged: identical to revision 2'
    );
  });

  it('shows the line of the parameters cell the server names in a refusal', () => {
    const refusal = new ApiError(
      400,
      'validation_failed',
      '/path: its parameters cell: line 2: syntax error: invalid syntax',
      [
        {
          path: '/path',
          message: 'its parameters cell: line 2: syntax error: invalid syntax'
        }
      ]
    );
    expect(registrationProblem(refusal)).toBe(
      'Notebook: its parameters cell: line 2: syntax error: invalid syntax'
    );
    const name = new ApiError(400, 'validation_failed', '/name: bad', [
      { path: '/name', message: "is not letters, digits, '.', '_' or '-'" }
    ]);
    expect(registrationProblem(name)).toBe(
      "Name: is not letters, digits, '.', '_' or '-'"
    );
    expect(
      registrationProblem(
        new ApiError(
          409,
          'conflict',
          'fft is an installation type’s name',
          null
        )
      )
    ).toBe('Fft is an installation type’s name');
  });

  it('tells 201 (a new revision) from 200 (identical) when registering', async () => {
    const bodies: unknown[] = [];
    let status = 201;
    const client = clientServedBy(async request => {
      expect(new URL(request.url).pathname).toBe(
        '/nagelfluh/api/process-types'
      );
      bodies.push(await request.json());
      return new Response(JSON.stringify(makeNotebookType('damped', 1)), {
        status
      });
    });
    const body = { project: 1, path: 'damped.ipynb', name: 'damped' };
    expect((await client.registerNotebook(body)).created).toBe(true);
    status = 200;
    const again = await client.registerNotebook(body);
    expect(again.created).toBe(false);
    expect(again.type.revision).toBe(1);
    expect(bodies).toEqual([body, body]);
  });
});

/** A store with project 1 open, whose server lists `types`; `asked` collects the projects listed. */
async function storeListing(
  client: FakeClient,
  types: IProcessType[],
  asked: (number | null | undefined)[] = []
): Promise<ProjectStore> {
  client.processTypes = async (project?: number | null) => {
    asked.push(project);
    return { items: types, next: null, broken: [] };
  };
  const store = new ProjectStore(client, new FakeEvents(), new Selection(null));
  store.selection.setProject(1);
  await new Promise(resolve => setTimeout(resolve, 0));
  return store;
}

describe('the project’s types in the store', () => {
  it('are fetched for the project, and a registered one is offered at once', async () => {
    const client = new FakeClient();
    const asked: (number | null | undefined)[] = [];
    const store = await storeListing(
      client,
      [makeType('fft'), makeNotebookType('damped', 1)],
      asked
    );
    expect(asked).toEqual([1]);
    expect(store.types.map(typeLabel)).toEqual([
      'fft',
      'damped (notebook · rev 1)'
    ]);

    store.addType(makeNotebookType('damped', 2));
    store.addType(makeNotebookType('other-project', 1, null, { project: 2 }));
    expect(store.types.map(typeLabel)).toEqual([
      'fft',
      'damped (notebook · rev 2)'
    ]);
    store.dispose();
  });
});

describe('retiring a project’s own type', () => {
  /** A store of project 1 listing fft (packaged) and the notebook types damped and decay. */
  function storeOf(client: FakeClient): Promise<ProjectStore> {
    return storeListing(client, [
      makeType('fft'),
      makeNotebookType('damped', 2),
      makeNotebookType('decay', 1)
    ]);
  }

  it('takes it out of the list of types at once and leaves the others', async () => {
    const client = new FakeClient();
    const asked: [string, number][] = [];
    client.retireType = async (name: string, project: number) => {
      asked.push([name, project]);
      return makeNotebookType(name, 2, undefined, { retired: 1700000000 });
    };
    const store = await storeOf(client);
    let redraws = 0;
    store.changed.connect(() => (redraws += 1));

    const retired = await store.retireType('damped');

    expect(asked).toEqual([['damped', 1]]);
    expect(retired.retired).toBe(1700000000);
    expect(store.types.map(t => t.name)).toEqual(['fft', 'decay']);
    expect(redraws).toBe(1);
    store.dispose();
  });

  it('keeps the list as it was and tells why when the server refuses', async () => {
    const client = new FakeClient();
    client.retireType = async () => {
      throw new ApiError(
        409,
        'conflict',
        'fft is an installed process type: it goes with its package or environment',
        null
      );
    };
    const store = await storeOf(client);

    const refusal = await store
      .retireType('fft')
      .catch((error: unknown) => error);

    expect(readableError(refusal)).toBe(
      'Fft is an installed process type: it goes with its package or environment'
    );
    expect(store.types.map(t => t.name)).toEqual(['fft', 'damped', 'decay']);
    store.dispose();
  });

  it('leaves the list of a project opened while the retiring was on its way', async () => {
    const client = new FakeClient();
    let answer: (type: IProcessType) => void = () => undefined;
    client.retireType = () => new Promise(resolve => (answer = resolve));
    const store = await storeOf(client);

    const retiring = store.retireType('damped');
    store.selection.setProject(2);
    await new Promise(resolve => setTimeout(resolve, 0));
    answer(makeNotebookType('damped', 2, undefined, { retired: 1 }));
    await retiring;

    expect(store.types.map(t => t.name)).toEqual(['fft', 'damped', 'decay']);
    store.dispose();
  });

  it('is a DELETE of the type by its name, escaped as one path segment, in the project', async () => {
    const requests: { method: string; url: URL }[] = [];
    const client = clientServedBy(request => {
      requests.push({ method: request.method, url: new URL(request.url) });
      return new Response(
        JSON.stringify(
          makeNotebookType('damped', 1, undefined, { retired: 5 })
        ),
        { status: 200 }
      );
    });

    expect((await client.retireType('damped', 3)).retired).toBe(5);
    await client.retireType('a/b c', 3);

    expect(
      requests.map(({ method, url }) => [
        method,
        url.pathname,
        url.searchParams.get('project')
      ])
    ).toEqual([
      ['DELETE', '/nagelfluh/api/process-types/damped', '3'],
      ['DELETE', '/nagelfluh/api/process-types/a%2Fb%20c', '3']
    ]);
  });
});

describe('an executed notebook opened in the Lab', () => {
  it('is recognised by its mime type', () => {
    expect(
      isNotebook(makeDataset(1, 1, { mime_type: 'application/x-ipynb+json' }))
    ).toBe(true);
    expect(isNotebook(makeDataset(2, 1, { mime_type: 'text/csv' }))).toBe(
      false
    );
  });

  it('is saved under nagelfluh-runs/<process>-v<version>/, its names made path segments', () => {
    expect(executedNotebookPath('damped run', 3, 'damped.executed.ipynb')).toBe(
      'nagelfluh-runs/damped run-v3/damped.executed.ipynb'
    );
    expect(executedNotebookPath('a/b', 1, '..')).toBe(
      'nagelfluh-runs/a-b-v1/_'
    );
  });

  it('makes its folders, saves the notebook and opens it', async () => {
    const saved: [string, Partial<Contents.IModel>][] = [];
    const opened: string[] = [];
    const notebook = {
      cells: [],
      metadata: {},
      nbformat: 4,
      nbformat_minor: 5
    };
    const path = await openExecutedNotebook(
      {
        text: async id => {
          expect(id).toBe(41);
          return JSON.stringify(notebook);
        },
        contents: {
          save: async (path: string, options?: Partial<Contents.IModel>) => {
            saved.push([path, options ?? {}]);
            return {} as Contents.IModel;
          }
        },
        open: async path => opened.push(path)
      },
      'damped',
      2,
      { id: 41, name: 'damped.executed.ipynb' }
    );
    expect(path).toBe('nagelfluh-runs/damped-v2/damped.executed.ipynb');
    expect(saved).toEqual([
      ['nagelfluh-runs', { type: 'directory' }],
      ['nagelfluh-runs/damped-v2', { type: 'directory' }],
      [path, { type: 'notebook', format: 'json', content: notebook }]
    ]);
    expect(opened).toEqual([path]);
  });

  it('is neither saved nor opened when the dataset is no notebook', async () => {
    const saved: string[] = [];
    await expect(
      openExecutedNotebook(
        {
          text: async () => 'time,amplitude\n0,1\n',
          contents: {
            save: async (path: string) => {
              saved.push(path);
              return {} as Contents.IModel;
            }
          },
          open: async () => undefined
        },
        'damped',
        1,
        { id: 5, name: 'table.csv' }
      )
    ).rejects.toThrow('dataset 5 is not a notebook (not JSON)');
    expect(saved).toEqual([]);
  });
});
