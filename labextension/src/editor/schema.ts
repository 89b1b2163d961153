/**
 * What the editor derives from a process type's JSON Schema: the rjsf uiSchema
 * (dataset fields get the dataset picker), the validator that knows the
 * `nagelfluh-dataset` format, and JSON-pointer helpers that tie rjsf's field ids
 * and the server's error paths to values in the form data.
 */
import { RJSFSchema, UiSchema, getDefaultFormState } from '@rjsf/utils';
import { customizeValidator } from '@rjsf/validator-ajv8';
import { ReadonlyJSONObject } from '@lumino/coreutils';
import { IFieldError } from '../api';
import * as jsonPointer from '../pointer';

/** The JSON Schema format of a parameter that holds a dataset reference (DESIGN §2). */
export const DATASET_FORMAT = 'nagelfluh-dataset';

/** The prefix of a dataset reference; the server accepts `dataset:<positive integer>`. */
export const DATASET_PREFIX = 'dataset:';

/** The name under which the dataset picker is registered with rjsf. */
export const DATASET_WIDGET = 'nagelfluhDataset';

/** rjsf's default id prefix and separator: inputs get ids such as `root_duration`. */
export const ID_PREFIX = 'root';
const ID_SEPARATOR = '_';

const DATASET_REF = /^dataset:[1-9][0-9]*$/;

/**
 * The validator every editor form uses: ajv with the dataset format registered,
 * so a dataset field accepts exactly what the server accepts.
 */
export const editorValidator = customizeValidator<ReadonlyJSONObject>({
  customFormats: { [DATASET_FORMAT]: DATASET_REF }
});

export function datasetRef(id: number): string {
  return `${DATASET_PREFIX}${id}`;
}

/** The dataset id a reference names, or null when it is not a valid reference. */
export function parseDatasetRef(value: unknown): number | null {
  return typeof value === 'string' && DATASET_REF.test(value)
    ? Number(value.slice(DATASET_PREFIX.length))
    : null;
}

/** Follow a local `$ref` (`#/$defs/...`, `#/definitions/...`); other schemas pass through. */
export function resolveRef(schema: RJSFSchema, root: RJSFSchema): RJSFSchema {
  let current = schema;
  const seen = new Set<string>();
  while (
    typeof current.$ref === 'string' &&
    current.$ref.startsWith('#') &&
    !seen.has(current.$ref)
  ) {
    seen.add(current.$ref);
    const target = jsonPointer.valueAt(root, current.$ref.slice(1));
    if (!target || typeof target !== 'object') {
      return current;
    }
    const { $ref, ...rest } = current;
    current = { ...(target as RJSFSchema), ...rest };
  }
  return current;
}

/**
 * The uiSchema of a type's parameter schema: every string field of format
 * `nagelfluh-dataset`, however deeply nested in objects and arrays, is drawn by
 * the dataset picker; everything else keeps rjsf's default widget.
 */
export function uiSchemaFor(
  schema: RJSFSchema,
  root: RJSFSchema = schema
): UiSchema<ReadonlyJSONObject> {
  const resolved = resolveRef(schema, root);
  const ui: UiSchema<ReadonlyJSONObject> = {};
  if (resolved.format === DATASET_FORMAT) {
    ui['ui:widget'] = DATASET_WIDGET;
  }
  if (resolved.properties) {
    for (const [name, sub] of Object.entries(resolved.properties)) {
      if (typeof sub === 'object') {
        const child = uiSchemaFor(sub, root);
        if (Object.keys(child).length > 0) {
          ui[name] = child;
        }
      }
    }
  }
  const items = resolved.items;
  if (Array.isArray(items)) {
    const children = items.map(item =>
      typeof item === 'object' ? uiSchemaFor(item, root) : {}
    );
    if (children.some(child => Object.keys(child).length > 0)) {
      ui.items = children;
    }
  } else if (items && typeof items === 'object') {
    const child = uiSchemaFor(items, root);
    const item = resolveRef(items, root);
    if (item.type === 'object' && !item.title) {
      // rjsf would title each entry "components-0"; name it after its list instead.
      child['ui:title'] = itemTitle(resolved.title);
    }
    if (Object.keys(child).length > 0) {
      ui.items = child;
    }
  }
  return ui;
}

/** The title of one entry of a list titled `title`: "Buried spheres" → "Buried sphere". */
export function itemTitle(title: string | undefined): string {
  if (!title) {
    return 'Item';
  }
  if (/ies$/.test(title)) {
    return title.replace(/ies$/, 'y');
  }
  return /[^s]s$/.test(title) ? title.slice(0, -1) : title;
}

/** The form data a new process of this type starts with: the schema's defaults. */
export function initialParameters(
  schema: RJSFSchema,
  data: Record<string, unknown> = {}
): Record<string, unknown> {
  const filled = getDefaultFormState(
    editorValidator,
    schema,
    data as ReadonlyJSONObject,
    schema
  );
  return (filled ?? {}) as Record<string, unknown>;
}

/** A copy of `data` with the value at `pointer` replaced; missing containers are created. */
export function setPointer<T>(data: T, pointer: string, value: unknown): T {
  const segments = jsonPointer.tokens(pointer);
  const put = (current: unknown, index: number): unknown => {
    if (index === segments.length) {
      return value;
    }
    const segment = segments[index];
    if (Array.isArray(current)) {
      const copy = [...current];
      const at = Number(segment);
      copy[at] = put(copy[at], index + 1);
      return copy;
    }
    const object =
      current !== null && typeof current === 'object' ? current : {};
    return {
      ...(object as Record<string, unknown>),
      [segment]: put((object as Record<string, unknown>)[segment], index + 1)
    };
  };
  return put(data, 0) as T;
}

/**
 * The JSON pointer of the value an rjsf field id names (`root_components_0_frequency`
 * → `/components/0/frequency`). Property names may contain the separator, so the
 * schema decides how the id splits; null when the id names no field of it.
 */
export function pointerOfId(id: string, schema: RJSFSchema): string | null {
  if (!id.startsWith(ID_PREFIX)) {
    return null;
  }
  const walk = (
    rest: string,
    current: RJSFSchema,
    segments: string[]
  ): string[] | null => {
    if (rest === '') {
      return segments;
    }
    if (!rest.startsWith(ID_SEPARATOR)) {
      return null;
    }
    const tail = rest.slice(ID_SEPARATOR.length);
    const resolved = resolveRef(current, schema);
    const properties = resolved.properties ?? {};
    const names = Object.keys(properties)
      .filter(name => tail === name || tail.startsWith(name + ID_SEPARATOR))
      .sort((a, b) => b.length - a.length);
    for (const name of names) {
      const sub = properties[name];
      if (typeof sub === 'object') {
        const found = walk(tail.slice(name.length), sub, [...segments, name]);
        if (found) {
          return found;
        }
      }
    }
    const index = /^\d+/.exec(tail);
    if (index && resolved.items) {
      const at = Number(index[0]);
      const items = resolved.items;
      const item = Array.isArray(items) ? items[at] : items;
      if (item && typeof item === 'object') {
        return walk(tail.slice(index[0].length), item, [...segments, index[0]]);
      }
    }
    return null;
  };
  const segments = walk(id.slice(ID_PREFIX.length), schema, []);
  return segments === null ? null : jsonPointer.join('', ...segments);
}

/** The rjsf id of the field at a JSON pointer (the inverse of `pointerOfId`). */
export function idOfPointer(pointer: string): string {
  return [ID_PREFIX, ...jsonPointer.tokens(pointer)].join(ID_SEPARATOR);
}

/**
 * The default name of a new process: the type and the next counter after the
 * highest one already used in the project, so names stay unique and ordered.
 */
export function defaultName(type: string, existing: readonly string[]): string {
  const pattern = new RegExp(
    `^${type.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)$`
  );
  let highest = 0;
  for (const name of existing) {
    const match = pattern.exec(name);
    if (match) {
      highest = Math.max(highest, Number(match[1]));
    }
  }
  return `${type}-${highest + 1}`;
}

/**
 * What the validator finds wrong with `data`, as JSON pointers and messages
 * (the same shape as the server's field errors); empty when it is valid.
 */
export function validateParameters(
  schema: RJSFSchema,
  data: Record<string, unknown>
): IFieldError[] {
  const { errorSchema } = editorValidator.validateFormData(
    data as ReadonlyJSONObject,
    schema
  );
  const found: IFieldError[] = [];
  const walk = (node: unknown, segments: string[]) => {
    if (!node || typeof node !== 'object') {
      return;
    }
    for (const [key, child] of Object.entries(
      node as Record<string, unknown>
    )) {
      if (key === '__errors') {
        for (const message of child as string[]) {
          found.push({ path: jsonPointer.join('', ...segments), message });
        }
      } else {
        walk(child, [...segments, key]);
      }
    }
  };
  walk(errorSchema, []);
  return found;
}
