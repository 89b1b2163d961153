/**
 * The server's answers turned into what the editor shows: 400 field errors on
 * the fields they name (parameters through rjsf's `extraErrors`, resources and
 * the name on their own inputs), everything else as one readable sentence.
 */
import { ErrorSchema, RJSFSchema, deepEquals } from '@rjsf/utils';
import { ApiError, IFieldError, IResources } from '../api';
import * as jsonPointer from '../pointer';
import { resolveRef } from './schema';

export type ResourceKey = keyof IResources;

export const RESOURCE_KEYS: readonly ResourceKey[] = [
  'cpu',
  'memory',
  'deadline_seconds'
];

/** A 400's field errors sorted by where the editor shows them. */
export interface IMappedErrors {
  /** Errors of parameters, their paths relative to the parameters object. */
  parameters: IFieldError[];
  resources: Partial<Record<ResourceKey, string>>;
  name: string | null;
  /** Errors no field shows. */
  other: string[];
}

/**
 * Sort field errors by field. Paths are JSON pointers either under
 * `/parameters` or, for some answers, relative to the parameters themselves
 * (`/duration`); the schema tells the latter from the request's own fields.
 * The server reports a missing required property at the property's own
 * pointer, so the path alone says where every error belongs.
 */
export function mapServerErrors(
  errors: readonly IFieldError[],
  schema: RJSFSchema
): IMappedErrors {
  const mapped: IMappedErrors = {
    parameters: [],
    resources: {},
    name: null,
    other: []
  };
  const properties = resolveRef(schema, schema).properties ?? {};
  for (const { path, message } of errors) {
    const segments = jsonPointer.tokens(path);
    const [head, ...rest] = segments;
    if (head === 'parameters' || (head !== undefined && head in properties)) {
      const inside = head === 'parameters' ? rest : segments;
      mapped.parameters.push({
        path: jsonPointer.join('', ...inside),
        message
      });
    } else if (
      head === 'resources' &&
      rest.length === 1 &&
      RESOURCE_KEYS.includes(rest[0] as ResourceKey)
    ) {
      const key = rest[0] as ResourceKey;
      mapped.resources[key] = mapped.resources[key]
        ? `${mapped.resources[key]}; ${message}`
        : message;
    } else if (head === 'name' && rest.length === 0) {
      mapped.name = mapped.name ? `${mapped.name}; ${message}` : message;
    } else {
      mapped.other.push(
        segments.length > 0 ? `${segments.join('.')}: ${message}` : message
      );
    }
  }
  return mapped;
}

/** rjsf's ErrorSchema of parameter errors (for `extraErrors`): `__errors` at each path. */
export function toErrorSchema(errors: readonly IFieldError[]): ErrorSchema {
  const root: ErrorSchema = {};
  for (const { path, message } of errors) {
    let node = root as Record<string, unknown>;
    for (const segment of jsonPointer.tokens(path)) {
      const child = (node[segment] ?? {}) as Record<string, unknown>;
      node[segment] = child;
      node = child;
    }
    const list = (node.__errors ?? []) as string[];
    if (!list.includes(message)) {
      node.__errors = [...list, message];
    }
  }
  return root;
}

/** The server's errors that still apply: those whose field the user has not changed since. */
export function pruneErrors(
  errors: readonly IFieldError[],
  before: unknown,
  after: unknown
): IFieldError[] {
  return errors.filter(error =>
    deepEquals(
      jsonPointer.valueAt(before, error.path),
      jsonPointer.valueAt(after, error.path)
    )
  );
}

/** One readable sentence for any failure: never a stack trace. */
export function readableError(error: unknown): string {
  if (error instanceof ApiError) {
    const message = error.message || error.code;
    switch (error.status) {
      case 0:
        return `The server cannot be reached: check the connection and try again. (${message})`;
      case 400:
        return error.fieldErrors.length > 0
          ? `The server refused some values: ${message}`
          : `The request was refused: ${message}`;
      case 402:
        return /balance/i.test(message)
          ? capitalise(message)
          : `Insufficient balance: ${message}`;
      case 403:
        return `Not allowed: ${message}`;
      default:
        return error.status >= 500
          ? `The server failed: ${message}`
          : capitalise(message);
    }
  }
  if (error instanceof Error) {
    return capitalise(error.message || error.name);
  }
  return capitalise(String(error));
}

export function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
