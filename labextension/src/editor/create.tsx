/**
 * Create mode: environment, process type and name, the type's parameters form,
 * resources with the live estimate, and submit. A refusal shows on the fields
 * it names; anything else in the message area.
 */
import * as React from 'react';
import { RJSFSchema } from '@rjsf/utils';
import { ApiError, Environment, FieldError, Process, ProcessType } from '../api';
import { NagelfluhContext } from '../context';
import { mapServerErrors, pruneErrors, readableError } from './errors';
import { ParametersForm, focusField } from './form';
import { useFlowPick, useSignal } from './hooks';
import { ResourceErrors, ResourcesDraft, ResourcesFields, draftOf, parseResources } from './resources';
import { datasetRef, defaultName, initialParameters, setPointer, validateParameters } from './schema';

export interface Message {
  kind: 'error' | 'info';
  text: string;
}

/** What the create form holds; kept by the widget so that switching modes loses nothing. */
export interface CreateDraft {
  environment: string;
  type: string;
  name: string;
  /** The user typed a name: a type change no longer replaces it. */
  nameEdited: boolean;
  parameters: Record<string, unknown>;
  resources: ResourcesDraft;
}

export function MessageArea(props: { message: Message | null }): JSX.Element {
  const { message } = props;
  return (
    <div
      className={`nf-Message${message ? ` nf-Message-${message.kind}` : ''}`}
      data-testid="nf-editor-message"
      role={message?.kind === 'error' ? 'alert' : 'status'}
      aria-live="polite"
    >
      {message?.text}
    </div>
  );
}

/** Environments as the server lists them, or as the types name them if that list fails. */
function useEnvironments(ctx: NagelfluhContext): Environment[] {
  const [environments, setEnvironments] = React.useState<Environment[] | null>(null);
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
    process_types: ctx.store.types.filter(type => type.environment === name).map(type => type.name)
  }));
}

function typesOf(types: readonly ProcessType[], environment: Environment | undefined): ProcessType[] {
  if (!environment) {
    return [];
  }
  return types.filter(
    type => type.environment === environment.name || environment.process_types.includes(type.name)
  );
}

export function CreatePanel(props: {
  ctx: NagelfluhContext;
  draft: { current: CreateDraft | null };
  onCreated(process: Process): void;
}): JSX.Element {
  const { ctx } = props;
  useSignal(ctx.store.changed);
  const environments = useEnvironments(ctx);
  const initial = props.draft.current;
  const [environment, setEnvironment] = React.useState(initial?.environment ?? '');
  const [typeName, setTypeName] = React.useState(initial?.type ?? '');
  const [name, setName] = React.useState(initial?.name ?? '');
  const [nameEdited, setNameEdited] = React.useState(initial?.nameEdited ?? false);
  const [parameters, setParameters] = React.useState<Record<string, unknown>>(initial?.parameters ?? {});
  const [resources, setResources] = React.useState<ResourcesDraft>(
    initial?.resources ?? draftOf(ctx.settings.values.defaultResources)
  );
  const [touched, setTouched] = React.useState(false);
  const [parameterErrors, setParameterErrors] = React.useState<FieldError[]>([]);
  const [resourceErrors, setResourceErrors] = React.useState<ResourceErrors>({});
  const [nameError, setNameError] = React.useState<string | null>(null);
  const [message, setMessage] = React.useState<Message | null>(null);
  const [busy, setBusy] = React.useState(false);
  const root = React.useRef<HTMLDivElement>(null);

  const env = environments.find(e => e.name === environment);
  const types = typesOf(ctx.store.types, env);
  const processType = types.find(type => type.name === typeName);
  const schema = processType?.schema as RJSFSchema | undefined;

  React.useEffect(() => {
    props.draft.current = { environment, type: typeName, name, nameEdited, parameters, resources };
  }, [environment, typeName, name, nameEdited, parameters, resources]);

  const chooseType = (type: ProcessType | undefined) => {
    setTypeName(type?.name ?? '');
    setParameters(type ? initialParameters(type.schema as RJSFSchema) : {});
    setParameterErrors([]);
    setNameError(null);
    setTouched(false);
    setMessage(null);
  };

  const chooseEnvironment = (name: string) => {
    setEnvironment(name);
    const next = typesOf(ctx.store.types, environments.find(e => e.name === name));
    if (!next.some(type => type.name === typeName)) {
      chooseType(next[0]);
    }
  };

  // Choose the first environment with types, and its first type, once they are known.
  React.useEffect(() => {
    if (!env) {
      const first = environments.find(e => typesOf(ctx.store.types, e).length > 0);
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

  const pick = useFlowPick(ctx, {
    picked: (pointer, dataset) => {
      setParameters(current => setPointer(current, pointer, datasetRef(dataset.id)));
      setMessage({ kind: 'info', text: `Picked ${dataset.name} (dataset ${dataset.id}).` });
    },
    failed: text => setMessage({ kind: 'error', text })
  });

  const changeParameters = (next: Record<string, unknown>) => {
    setParameterErrors(errors => pruneErrors(errors, parameters, next));
    setParameters(next);
    setTouched(true);
  };

  const submit = async () => {
    if (busy) {
      return;
    }
    setTouched(true);
    const project = ctx.selection.project;
    if (!processType || !schema) {
      setMessage({ kind: 'error', text: 'Choose a process type first.' });
      return;
    }
    if (project === null) {
      setMessage({ kind: 'error', text: 'No project is open: choose or create one in the Nagelfluh side panel.' });
      return;
    }
    const invalid = validateParameters(schema, parameters);
    const parsed = parseResources(resources);
    const trimmed = name.trim();
    setNameError(trimmed ? null : 'is required');
    if (invalid.length > 0 || !parsed.resources || !trimmed) {
      const count = invalid.length + Object.keys(parsed.errors).length + (trimmed ? 0 : 1);
      setMessage({
        kind: 'error',
        text: `${count} field${count === 1 ? ' needs' : 's need'} fixing before the process can run.`
      });
      if (!trimmed) {
        root.current?.querySelector<HTMLElement>('[data-testid="nf-editor-name"]')?.focus();
      } else {
        focusField(root.current, invalid);
      }
      return;
    }
    setBusy(true);
    setMessage({ kind: 'info', text: `Submitting ${trimmed}…` });
    try {
      const process = await ctx.client.createProcess({
        project,
        type: processType.name,
        name: trimmed,
        parameters,
        resources: parsed.resources
      });
      ctx.store.upsert(process);
      props.draft.current = null;
      ctx.selection.select(process.id);
      props.onCreated(process);
    } catch (error) {
      setBusy(false);
      if (error instanceof ApiError && error.status === 400) {
        const mapped = mapServerErrors(error.fieldErrors, schema);
        setParameterErrors(mapped.parameters);
        setResourceErrors(mapped.resources);
        setNameError(mapped.name);
        setMessage({
          kind: 'error',
          text: [readableError(error), ...mapped.other].join(' ')
        });
        focusField(root.current, mapped.parameters);
      } else {
        setMessage({ kind: 'error', text: readableError(error) });
      }
    }
  };

  return (
    <div
      className="nf-EditorPanel"
      ref={root}
      onKeyDown={event => {
        if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          void submit();
        }
      }}
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
          <select
            id="nf-editor-type"
            className="nf-Select"
            data-testid="nf-editor-type"
            value={typeName}
            onChange={event => chooseType(types.find(type => type.name === event.target.value))}
          >
            {types.length === 0 && <option value="">no process type</option>}
            {types.map(type => (
              <option key={type.name} value={type.name}>
                {type.title || type.name}
              </option>
            ))}
          </select>
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
          <span id="nf-editor-name-hint" className={nameError ? 'nf-FieldError' : 'nf-Hint'}>
            {nameError ? `Name ${nameError}` : 'Enter submits; Ctrl+Enter submits from anywhere in the form'}
          </span>
        </div>
      </div>
      {processType && <p className="nf-TypeDescription">{processType.description}</p>}
      {schema ? (
        <ParametersForm
          ctx={ctx}
          schema={schema}
          parameters={parameters}
          serverErrors={parameterErrors}
          liveValidate={touched}
          armed={pick.armed}
          arm={pick.arm}
          onChange={changeParameters}
          onSubmit={() => void submit()}
        />
      ) : (
        <p className="nf-Empty">{ctx.store.error ?? 'Loading the process types…'}</p>
      )}
      <ResourcesFields
        ctx={ctx}
        idPrefix="nf-editor-create"
        draft={resources}
        serverErrors={resourceErrors}
        showErrors={touched}
        onChange={(next, changed) => {
          setResources(next);
          setResourceErrors(({ [changed]: _, ...rest }) => rest);
        }}
      />
      <MessageArea message={message} />
      <div className="nf-Editor-actions">
        <button
          type="button"
          className="jp-Button nf-Button nf-primary"
          data-testid="nf-editor-submit"
          disabled={busy}
          onClick={() => void submit()}
        >
          {busy ? 'Submitting…' : 'Create and run'}
        </button>
      </div>
    </div>
  );
}
