/**
 * Create mode: environment, process type and name, the type's parameters form,
 * resources with the live estimate, and submit. A refusal shows on the fields
 * it names; anything else in the message area. Types whose code failed to
 * load are listed as broken with their error, so a missing type is explained.
 * A project's own type can be retired from here, where it is chosen.
 */
import * as React from 'react';
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { RJSFSchema } from '@rjsf/utils';
import { IBrokenType, IEnvironment, IProcess, IProcessType } from '../api';
import { INagelfluhContext } from '../context';
import { sourceText, typeLabel } from '../notebooks';
import { readableError } from './errors';
import { useSignal } from './hooks';
import { cacheChoice, cacheField } from './provenance';
import { IRunDraft, RunFormFields, onCtrlEnter, useRunForm } from './runform';
import { defaultName, initialParameters } from './schema';

/** A fresh draft for `type`: its environment, its defaults, the default resources. */
export function draftFor(
  type: IProcessType,
  resources: IRunDraft['resources']
): ICreateDraft {
  return {
    environment: type.environment,
    type: type.name,
    name: '',
    nameEdited: false,
    parameters: initialParameters(type.schema as RJSFSchema),
    resources,
    useCache: true
  };
}

/** What the create form holds; kept by the widget so that switching modes loses nothing. */
export interface ICreateDraft extends IRunDraft {
  environment: string;
  type: string;
  name: string;
  /** The user typed a name: a type change no longer replaces it. */
  nameEdited: boolean;
}

/** What the form shows of an environment. */
type EnvironmentListing = Pick<
  IEnvironment,
  'name' | 'image' | 'process_types'
>;

/** Environments as the server lists them, or as the types name them if that list fails. */
function useEnvironments(ctx: INagelfluhContext): EnvironmentListing[] {
  const [environments, setEnvironments] = React.useState<
    EnvironmentListing[] | null
  >(null);
  React.useEffect(() => {
    let live = true;
    ctx.client.environments().then(
      page => live && setEnvironments(page.items),
      () => live && setEnvironments(null)
    );
    return () => {
      live = false;
    };
  }, [ctx]);
  if (environments) {
    return environments;
  }
  const names = [...new Set(ctx.store.types.map(type => type.environment))];
  return names.map(name => ({
    name,
    image: null,
    process_types: ctx.store.types
      .filter(type => type.environment === name)
      .map(type => type.name)
  }));
}

function typesOf(
  types: readonly IProcessType[],
  environment: EnvironmentListing | undefined
): IProcessType[] {
  if (!environment) {
    return [];
  }
  return types.filter(
    type =>
      type.environment === environment.name ||
      environment.process_types.includes(type.name)
  );
}

/** The broken types of an environment, or of every environment while none is chosen. */
function brokenOf(
  broken: readonly IBrokenType[],
  environment: EnvironmentListing | undefined
): IBrokenType[] {
  return broken.filter(
    type => !environment || type.environment === environment.name
  );
}

/** Whether the user confirms retiring `name`, told what retiring keeps and how to undo it. */
async function confirmRetire(name: string): Promise<boolean> {
  const answer = await showDialog({
    title: `Retire process type ${name}?`,
    body:
      `${name} leaves the list of process types and takes no new processes or versions. ` +
      'Its processes, versions, logs and datasets stay, and versions already queued still run. ' +
      'Registering its notebook again brings it back.',
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Retire' })]
  });
  return answer.button.accept;
}

export function CreatePanel(props: {
  ctx: INagelfluhContext;
  draft: { current: ICreateDraft | null };
  onCreated(process: IProcess): void;
}): JSX.Element {
  const { ctx } = props;
  useSignal(ctx.store.changed);
  const environments = useEnvironments(ctx);
  const initial = props.draft.current;
  const [environment, setEnvironment] = React.useState(
    initial?.environment ?? ''
  );
  const [typeName, setTypeName] = React.useState(initial?.type ?? '');
  const [name, setName] = React.useState(initial?.name ?? '');
  const [nameEdited, setNameEdited] = React.useState(
    initial?.nameEdited ?? false
  );
  const [nameError, setNameError] = React.useState<string | null>(null);
  const [retiring, setRetiring] = React.useState(false);
  const form = useRunForm(ctx, initial);
  const { parameters, resources, useCache, busy, setMessage } = form;

  const env = environments.find(e => e.name === environment);
  const types = typesOf(ctx.store.types, env);
  const broken = brokenOf(ctx.store.brokenTypes, env);
  const processType = types.find(type => type.name === typeName);
  const schema = processType?.schema as RJSFSchema | undefined;
  const cache = cacheChoice(processType);

  React.useEffect(() => {
    props.draft.current = {
      environment,
      type: typeName,
      name,
      nameEdited,
      parameters,
      resources,
      useCache
    };
  }, [
    environment,
    typeName,
    name,
    nameEdited,
    parameters,
    resources,
    useCache
  ]);

  const chooseType = (type: IProcessType | undefined) => {
    setTypeName(type?.name ?? '');
    form.reset(type ? initialParameters(type.schema as RJSFSchema) : {});
    setNameError(null);
    setMessage(null);
  };

  const chooseEnvironment = (name: string) => {
    setEnvironment(name);
    const next = typesOf(
      ctx.store.types,
      environments.find(e => e.name === name)
    );
    if (!next.some(type => type.name === typeName)) {
      chooseType(next[0]);
    }
  };

  // Choose the first environment with types, and its first type, once they are known.
  React.useEffect(() => {
    if (!env) {
      const first = environments.find(
        e => typesOf(ctx.store.types, e).length > 0
      );
      if (first) {
        chooseEnvironment(first.name);
      }
    } else if (!processType && types.length > 0) {
      chooseType(types[0]);
    }
  });

  // Keep the default name free of clashes as the project's processes load and grow.
  const takenNames = ctx.store.processes.map(p => p.name);
  React.useEffect(() => {
    if (processType && !nameEdited) {
      setName(defaultName(processType.name, takenNames));
    }
  }, [takenNames.join('\n'), processType?.name]);

  const retire = async (type: IProcessType) => {
    if (!(await confirmRetire(type.name))) {
      return;
    }
    setRetiring(true);
    try {
      await ctx.store.retireType(type.name);
      // Chosen here, not by the effect that fills an empty choice: that would clear the message.
      chooseType(typesOf(ctx.store.types, env)[0]);
      setMessage({
        kind: 'info',
        text: `Retired ${type.name}; register its notebook again to bring it back.`
      });
    } catch (error) {
      setMessage({ kind: 'error', text: readableError(error) });
    } finally {
      setRetiring(false);
    }
  };

  const submit = async () => {
    if (busy) {
      return;
    }
    form.setTouched(true);
    const project = ctx.selection.project;
    if (!processType || !schema) {
      setMessage({ kind: 'error', text: 'Choose a process type first.' });
      return;
    }
    if (project === null) {
      setMessage({
        kind: 'error',
        text: 'No project is open: choose or create one in the Nagelfluh side panel.'
      });
      return;
    }
    const trimmed = name.trim();
    setNameError(trimmed ? null : 'is required');
    const parsed = form.validate(
      schema,
      'the process',
      trimmed ? null : 'nf-editor-name'
    );
    if (!parsed) {
      return;
    }
    form.setBusy(true);
    setMessage({ kind: 'info', text: `Submitting ${trimmed}…` });
    try {
      const process = await ctx.client.createProcess({
        project,
        type: processType.name,
        name: trimmed,
        parameters,
        resources: parsed,
        ...cacheField(useCache, cache)
      });
      ctx.store.upsert(process);
      props.draft.current = null;
      ctx.selection.select(process.id);
      props.onCreated(process);
    } catch (error) {
      form.setBusy(false);
      const mapped = form.refused(error, schema);
      if (mapped) {
        setNameError(mapped.name);
      }
    }
  };

  return (
    <div
      className="nf-EditorPanel"
      ref={form.root}
      onKeyDown={onCtrlEnter(() => void submit())}
    >
      <div className="nf-Editor-header">
        <div className="nf-Field">
          <label htmlFor="nf-editor-environment">Environment</label>
          <select
            id="nf-editor-environment"
            className="nf-Select"
            data-testid="nf-editor-environment"
            value={environment}
            onChange={event => chooseEnvironment(event.target.value)}
          >
            {environments.length === 0 && <option value="">loading…</option>}
            {environments.map(e => (
              <option key={e.name} value={e.name}>
                {e.name}
                {e.image ? ` (${e.image})` : ''}
              </option>
            ))}
          </select>
        </div>
        <div className="nf-Field">
          <label htmlFor="nf-editor-type">Process type</label>
          <div className="nf-TypeRow">
            <select
              id="nf-editor-type"
              className="nf-Select"
              data-testid="nf-editor-type"
              value={typeName}
              onChange={event =>
                chooseType(types.find(type => type.name === event.target.value))
              }
            >
              {types.length === 0 && <option value="">no process type</option>}
              {types.map(type => (
                <option key={type.name} value={type.name}>
                  {typeLabel(type)}
                </option>
              ))}
              {env &&
                broken.map(type => (
                  <option
                    key={`broken:${type.name}`}
                    value={`broken:${type.name}`}
                    disabled
                    title={type.error}
                  >
                    {type.name} (broken)
                  </option>
                ))}
            </select>
            {processType && processType.project !== null && (
              <button
                type="button"
                className="jp-Button nf-Button"
                data-testid="nf-retire-type"
                aria-label={`Retire process type ${processType.name}`}
                title="Take this project's type out of the list; what it made stays"
                disabled={busy || retiring}
                onClick={() => void retire(processType)}
              >
                Retire type
              </button>
            )}
          </div>
        </div>
        <div className="nf-Field nf-Field-wide">
          <label htmlFor="nf-editor-name">Name</label>
          <input
            id="nf-editor-name"
            className={`nf-Input${nameError ? ' nf-invalid' : ''}`}
            data-testid="nf-editor-name"
            value={name}
            aria-invalid={Boolean(nameError)}
            aria-describedby="nf-editor-name-hint"
            onChange={event => {
              setName(event.target.value);
              setNameEdited(true);
              setNameError(null);
            }}
            onKeyDown={event => {
              if (event.key === 'Enter' && !event.ctrlKey && !event.metaKey) {
                event.preventDefault();
                void submit();
              }
            }}
          />
          <span
            id="nf-editor-name-hint"
            className={nameError ? 'nf-FieldError' : 'nf-Hint'}
          >
            {nameError
              ? `Name ${nameError}`
              : 'Enter submits; Ctrl+Enter submits from anywhere in the form'}
          </span>
        </div>
      </div>
      {broken.length > 0 && (
        <ul
          className="nf-BrokenTypes"
          data-testid="nf-broken-types"
          aria-label="Process types that failed to load"
        >
          {broken.map(type => (
            <li
              key={`${type.environment}/${type.name}`}
              title={type.entry_point}
            >
              {type.name} (broken): {type.error}
            </li>
          ))}
        </ul>
      )}
      {processType && (
        <p className="nf-TypeDescription">{processType.description}</p>
      )}
      {processType && sourceText(processType) && (
        <p className="nf-Muted nf-TypeSource" data-testid="nf-type-source">
          {sourceText(processType)}
        </p>
      )}
      <RunFormFields
        ctx={ctx}
        form={form}
        schema={schema}
        fallback={
          <p className="nf-Empty">
            {ctx.store.error ??
              (broken.length > 0
                ? 'No process type of this environment could be loaded.'
                : 'Loading the process types…')}
          </p>
        }
        idPrefix="nf-editor-create"
        cache={cache}
        button={{
          testid: 'nf-editor-submit',
          label: busy ? 'Submitting…' : 'Create and run',
          disabled: busy
        }}
        onSubmit={() => void submit()}
      />
    </div>
  );
}
