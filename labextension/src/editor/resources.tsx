/**
 * The resources a run asks for (cpu, memory, deadline) and what it may cost:
 * the estimate follows the inputs (debounced) next to the project's balance, so
 * a 402 is no surprise.
 */
import * as React from 'react';
import { ApiError, IResources } from '../api';
import { INagelfluhContext } from '../context';
import { ResourceKey, mapServerErrors, readableError } from './errors';
import { formatCredits } from './format';

/** The inputs' text as typed; parsed only when a run or an estimate needs it. */
export interface IResourcesDraft {
  cpu: string;
  memory: string;
  deadline: string;
}

export type ResourceErrors = Partial<Record<ResourceKey, string>>;

export function draftOf(resources: IResources): IResourcesDraft {
  return {
    cpu: String(resources.cpu),
    memory: String(resources.memory),
    deadline: String(resources.deadline_seconds)
  };
}

const DECIMAL = /^(\d+\.?\d*|\.\d+)$/;

/**
 * The resources a draft means, or what is wrong with its inputs. CPU is a
 * number of cores or a Kubernetes quantity (`500m`), which the server checks.
 */
export function parseResources(draft: IResourcesDraft): {
  resources: IResources | null;
  errors: ResourceErrors;
} {
  const errors: ResourceErrors = {};
  const cpuText = draft.cpu.trim();
  let cpu: number | string = cpuText;
  if (cpuText === '') {
    errors.cpu = 'is required';
  } else if (DECIMAL.test(cpuText)) {
    cpu = Number(cpuText);
    if (cpu <= 0) {
      errors.cpu = 'must be more than 0 cores';
    }
  }
  const memory = draft.memory.trim();
  if (memory === '') {
    errors.memory = 'is required (e.g. 512Mi)';
  }
  const deadlineText = draft.deadline.trim();
  const deadline = Number(deadlineText);
  if (!/^\d+$/.test(deadlineText) || deadline < 1) {
    errors.deadline_seconds = 'must be a whole number of seconds, at least 1';
  }
  if (Object.keys(errors).length > 0) {
    return { resources: null, errors };
  }
  return { resources: { cpu, memory, deadline_seconds: deadline }, errors };
}

interface IEstimate {
  estimated: number | null;
  errors: ResourceErrors;
  message: string | null;
}

/** The server's estimate of `resources`, asked 400 ms after the last change. */
function useEstimate(
  ctx: INagelfluhContext,
  resources: IResources | null
): IEstimate {
  const [estimate, setEstimate] = React.useState<IEstimate>({
    estimated: null,
    errors: {},
    message: null
  });
  const key = resources ? JSON.stringify(resources) : '';
  React.useEffect(() => {
    if (!resources) {
      setEstimate({ estimated: null, errors: {}, message: null });
      return;
    }
    let live = true;
    const timer = window.setTimeout(() => {
      ctx.client.estimate(resources).then(
        answer =>
          live &&
          setEstimate({
            estimated: answer.estimated,
            errors: {},
            message: null
          }),
        error => {
          if (!live) {
            return;
          }
          const fields =
            error instanceof ApiError
              ? mapServerErrors(error.fieldErrors, {}).resources
              : {};
          setEstimate({
            estimated: null,
            errors: fields,
            message:
              Object.keys(fields).length > 0 ? null : readableError(error)
          });
        }
      );
    }, 400);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [key]);
  return estimate;
}

const FIELDS: {
  key: ResourceKey;
  draft: keyof IResourcesDraft;
  label: string;
  testid: string;
  hint: string;
}[] = [
  {
    key: 'cpu',
    draft: 'cpu',
    label: 'CPU',
    testid: 'nf-editor-cpu',
    hint: 'cores, or a quantity such as 500m'
  },
  {
    key: 'memory',
    draft: 'memory',
    label: 'Memory',
    testid: 'nf-editor-memory',
    hint: 'a quantity such as 512Mi or 2Gi'
  },
  {
    key: 'deadline_seconds',
    draft: 'deadline',
    label: 'Deadline',
    testid: 'nf-editor-deadline',
    hint: 'seconds'
  }
];

export function ResourcesFields(props: {
  ctx: INagelfluhContext;
  idPrefix: string;
  draft: IResourcesDraft;
  /** Errors from a refused submit, shown until the input changes. */
  serverErrors: ResourceErrors;
  /** Show the inputs' own errors (after the first change or submit attempt). */
  showErrors: boolean;
  onChange(draft: IResourcesDraft, changed: ResourceKey): void;
}): JSX.Element {
  const { ctx, draft, idPrefix } = props;
  const parsed = parseResources(draft);
  const estimate = useEstimate(ctx, parsed.resources);
  const balance = ctx.store.account?.balance ?? null;
  const errors: ResourceErrors = {
    ...(props.showErrors ? parsed.errors : {}),
    ...estimate.errors,
    ...props.serverErrors
  };
  const over =
    estimate.estimated !== null &&
    balance !== null &&
    estimate.estimated > balance;
  return (
    <fieldset className="nf-Resources">
      <legend>Resources</legend>
      <div className="nf-Resources-fields">
        {FIELDS.map(field => {
          const id = `${idPrefix}-${field.draft}`;
          const error = errors[field.key];
          return (
            <div className="nf-Field" key={field.key}>
              <label htmlFor={id}>{field.label}</label>
              <input
                id={id}
                className={`nf-Input${error ? ' nf-invalid' : ''}`}
                data-testid={field.testid}
                type={field.key === 'deadline_seconds' ? 'number' : 'text'}
                min={field.key === 'deadline_seconds' ? 1 : undefined}
                step={field.key === 'deadline_seconds' ? 1 : undefined}
                inputMode={field.key === 'memory' ? 'text' : 'decimal'}
                value={draft[field.draft]}
                aria-invalid={Boolean(error)}
                aria-describedby={`${id}-hint`}
                onChange={event =>
                  props.onChange(
                    { ...draft, [field.draft]: event.target.value },
                    field.key
                  )
                }
              />
              <span
                id={`${id}-hint`}
                className={error ? 'nf-FieldError' : 'nf-Hint'}
              >
                {error ? `${field.label} ${error}` : field.hint}
              </span>
            </div>
          );
        })}
      </div>
      <div
        className={`nf-Estimate${over ? ' nf-over' : ''}`}
        data-testid="nf-editor-estimate"
        aria-live="polite"
      >
        {estimate.estimated !== null ? (
          <>
            Estimated cost: <strong>{formatCredits(estimate.estimated)}</strong>{' '}
            credits
          </>
        ) : (
          <>
            Estimated cost:{' '}
            {estimate.message ??
              (parsed.resources && Object.keys(estimate.errors).length === 0
                ? '…'
                : 'fix the resources above')}
          </>
        )}
        {balance !== null && <> · balance {formatCredits(balance)} credits</>}
        {over && <> · exceeds your balance</>}
      </div>
    </fieldset>
  );
}
