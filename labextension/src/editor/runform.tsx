/**
 * What create and edit mode share: a draft of parameters and resources that is
 * run as a version, its errors (the form's own checks and the server's
 * refusals), "pick from flow" for its dataset fields, the message area, and the
 * form from the parameters down to the run button. One implementation, so the
 * two modes cannot drift apart in how they check, refuse or show a draft.
 */
import * as React from 'react';
import { RJSFSchema } from '@rjsf/utils';
import { ApiError, IFieldError, IResources } from '../api';
import { INagelfluhContext } from '../context';
import { ISelectionState } from '../selection';
import {
  IMappedErrors,
  ResourceKey,
  mapServerErrors,
  pruneErrors,
  readableError
} from './errors';
import { ParametersForm, focusField } from './form';
import { ICacheChoice } from './provenance';
import { useFlowPick } from './hooks';
import {
  ResourceErrors,
  IResourcesDraft,
  ResourcesFields,
  draftOf,
  parseResources
} from './resources';
import { datasetRef, setPointer, validateParameters } from './schema';

export interface IMessage {
  kind: 'error' | 'info';
  text: string;
}

export function MessageArea(props: { message: IMessage | null }): JSX.Element {
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

/** A key handler that submits on Ctrl+Enter (Cmd+Enter on a Mac) from anywhere in the form. */
export function onCtrlEnter(
  submit: () => void
): (event: React.KeyboardEvent) => void {
  return event => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
    }
  };
}

export interface IRunDraft {
  parameters: Record<string, unknown>;
  resources: IResourcesDraft;
  /** "Use cached results" is checked: identical work done before is reused. */
  useCache: boolean;
}

/**
 * The state of a run form. Without `initial` it starts from empty parameters and
 * the default resources; `follow` hears the selection changes that are not picks.
 */
export function useRunForm(
  ctx: INagelfluhContext,
  initial: IRunDraft | null,
  follow?: (state: ISelectionState) => void
) {
  const [parameters, setParameters] = React.useState<Record<string, unknown>>(
    initial?.parameters ?? {}
  );
  const [resources, setResources] = React.useState<IResourcesDraft>(
    initial?.resources ?? draftOf(ctx.settings.values.defaultResources)
  );
  const [useCache, setUseCache] = React.useState(initial?.useCache ?? true);
  const [touched, setTouched] = React.useState(false);
  const [parameterErrors, setParameterErrors] = React.useState<IFieldError[]>(
    []
  );
  const [resourceErrors, setResourceErrors] = React.useState<ResourceErrors>(
    {}
  );
  const [message, setMessage] = React.useState<IMessage | null>(null);
  const [busy, setBusy] = React.useState(false);
  const root = React.useRef<HTMLDivElement>(null);

  const pick = useFlowPick(ctx, {
    picked: (pointer, dataset) => {
      setParameters(current =>
        setPointer(current, pointer, datasetRef(dataset.id))
      );
      setMessage({
        kind: 'info',
        text: `Picked ${dataset.name} (dataset ${dataset.id}).`
      });
    },
    failed: text => setMessage({ kind: 'error', text }),
    follow
  });

  /** Start over from these parameters (and resources, when given): untouched, without their errors. */
  const reset = (
    next: Record<string, unknown>,
    nextResources?: IResourcesDraft
  ) => {
    setParameters(next);
    setParameterErrors([]);
    setTouched(false);
    if (nextResources) {
      setResources(nextResources);
      setResourceErrors({});
    }
  };

  /** An edit drops the server's errors on the fields it changed; the refusal was about the old values. */
  const changeParameters = (next: Record<string, unknown>) => {
    setParameterErrors(errors => pruneErrors(errors, parameters, next));
    setParameters(next);
    setTouched(true);
  };

  const changeResources = (next: IResourcesDraft, changed: ResourceKey) => {
    setResources(next);
    setResourceErrors(({ [changed]: _, ...rest }) => rest);
  };

  /**
   * The resources to send, or null after saying how many fields need fixing
   * before `what` can run and focusing the first. `missing` is the test id of
   * an empty required field the caller owns (create mode's name): it counts,
   * and takes the focus.
   */
  const validate = (
    schema: RJSFSchema | undefined,
    what: string,
    missing: string | null = null
  ): IResources | null => {
    const invalid = schema ? validateParameters(schema, parameters) : [];
    const parsed = parseResources(resources);
    if (invalid.length === 0 && parsed.resources && missing === null) {
      return parsed.resources;
    }
    const count =
      invalid.length +
      Object.keys(parsed.errors).length +
      (missing === null ? 0 : 1);
    setMessage({
      kind: 'error',
      text: `${count} field${count === 1 ? ' needs' : 's need'} fixing before ${what} can run.`
    });
    if (missing !== null) {
      root.current
        ?.querySelector<HTMLElement>(`[data-testid="${missing}"]`)
        ?.focus();
    } else {
      focusField(root.current, invalid);
    }
    return null;
  };

  /**
   * Show a failed submit: a refusal (400) on the fields it names, returning the
   * mapping for the fields the caller owns; anything else in the message area.
   */
  const refused = (
    error: unknown,
    schema: RJSFSchema | undefined
  ): IMappedErrors | null => {
    if (!(error instanceof ApiError && error.status === 400)) {
      setMessage({ kind: 'error', text: readableError(error) });
      return null;
    }
    const mapped = mapServerErrors(error.fieldErrors, schema ?? {});
    setParameterErrors(mapped.parameters);
    setResourceErrors(mapped.resources);
    setMessage({
      kind: 'error',
      text: [readableError(error), ...mapped.other].join(' ')
    });
    focusField(root.current, mapped.parameters);
    return mapped;
  };

  return {
    parameters,
    resources,
    useCache,
    touched,
    parameterErrors,
    resourceErrors,
    message,
    busy,
    root,
    pick,
    setMessage,
    setBusy,
    setUseCache,
    setTouched,
    reset,
    changeParameters,
    changeResources,
    validate,
    refused
  };
}

export type RunForm = ReturnType<typeof useRunForm>;

/** "Use cached results": checked by default, disabled (unchecked) with why for a type that is never cached. */
function CacheField(props: {
  idPrefix: string;
  choice: ICacheChoice;
  checked: boolean;
  onChange(checked: boolean): void;
}): JSX.Element {
  const id = `${props.idPrefix}-cache`;
  const { choice } = props;
  return (
    <div className="nf-CacheField">
      <label htmlFor={id}>
        <input
          id={id}
          type="checkbox"
          data-testid="nf-editor-cache"
          checked={choice.enabled && props.checked}
          disabled={!choice.enabled}
          aria-describedby={`${id}-hint`}
          onChange={event => props.onChange(event.target.checked)}
        />{' '}
        Use cached results
      </label>
      <span id={`${id}-hint`} className="nf-Hint">
        {choice.hint}
      </span>
    </div>
  );
}

/**
 * The parameters form (`fallback` when there is no schema to show it with),
 * the resources with their estimate, "Use cached results", the message area
 * and the run button.
 */
export function RunFormFields(props: {
  ctx: INagelfluhContext;
  form: RunForm;
  schema: RJSFSchema | undefined;
  fallback: React.ReactNode;
  idPrefix: string;
  cache: ICacheChoice;
  button: { testid: string; label: string; title?: string; disabled: boolean };
  onSubmit(): void;
}): JSX.Element {
  const { ctx, form, schema, button } = props;
  return (
    <>
      {schema ? (
        <ParametersForm
          ctx={ctx}
          schema={schema}
          parameters={form.parameters}
          serverErrors={form.parameterErrors}
          liveValidate={form.touched}
          armed={form.pick.armed}
          arm={form.pick.arm}
          onChange={form.changeParameters}
          onSubmit={props.onSubmit}
        />
      ) : (
        props.fallback
      )}
      <ResourcesFields
        ctx={ctx}
        idPrefix={props.idPrefix}
        draft={form.resources}
        serverErrors={form.resourceErrors}
        showErrors={form.touched}
        onChange={form.changeResources}
      />
      <CacheField
        idPrefix={props.idPrefix}
        choice={props.cache}
        checked={form.useCache}
        onChange={form.setUseCache}
      />
      <MessageArea message={form.message} />
      <div className="nf-Editor-actions">
        <button
          type="button"
          className="jp-Button nf-Button nf-primary"
          data-testid={button.testid}
          disabled={button.disabled}
          title={button.title}
          onClick={props.onSubmit}
        >
          {button.label}
        </button>
      </div>
    </>
  );
}
