/**
 * Side-by-side rows of two versions' parameters and resources, with the rows
 * the server's structured diff names marked as changed.
 */
import { IChange, IComparison, IResources } from '../api';
import * as jsonPointer from '../pointer';

export type Section = 'parameters' | 'resources';

export interface ICompareRow {
  section: Section;
  /** JSON pointer inside the section, as the diff names it. */
  path: string;
  /** The values as text; `undefined` means the field is absent in that version. */
  left: string | undefined;
  right: string | undefined;
  /** How the value changed, null when both versions agree. */
  op: IChange['op'] | null;
}

export interface ISnapshot {
  parameters: Record<string, unknown>;
  resources: IResources;
}

/**
 * Leaves of a JSON value by pointer, in document order. Empty objects and
 * arrays are leaves too, so that "no components" still shows as a row.
 */
export function flatten(value: unknown): Map<string, unknown> {
  const leaves = new Map<string, unknown>();
  const visit = (current: unknown, at: string[]) => {
    if (current !== null && typeof current === 'object') {
      const entries = Array.isArray(current)
        ? current.map((item, index) => [String(index), item] as const)
        : Object.entries(current as Record<string, unknown>);
      if (entries.length > 0) {
        for (const [key, item] of entries) {
          visit(item, [...at, key]);
        }
        return;
      }
    }
    leaves.set(jsonPointer.join('', ...at), current);
  };
  visit(value, []);
  return leaves;
}

/** A value as the compare table shows it: strings bare, everything else as JSON. */
export function formatValue(value: unknown): string | undefined {
  if (value === undefined) {
    return undefined;
  }
  if (typeof value === 'string') {
    return value === '' ? '""' : value;
  }
  return JSON.stringify(value);
}

/** The change that covers a row: the same path, or an ancestor that changed as a whole. */
function changeAt(
  changes: readonly IChange[],
  path: string
): IChange | undefined {
  return changes.find(
    change =>
      change.path === '/' ||
      change.path === path ||
      path.startsWith(`${change.path}/`)
  );
}

function sectionRows(
  section: Section,
  left: unknown,
  right: unknown,
  changes: readonly IChange[]
): ICompareRow[] {
  const a = flatten(left);
  const b = flatten(right);
  const paths = [...a.keys(), ...[...b.keys()].filter(path => !a.has(path))];
  for (const change of changes) {
    const covered = paths.some(path => changeAt([change], path));
    if (!covered) {
      paths.push(change.path);
    }
  }
  return paths.map(path => ({
    section,
    path,
    left: formatValue(a.get(path)),
    right: formatValue(b.get(path)),
    op: changeAt(changes, path)?.op ?? null
  }));
}

/** The rows of the compare table: every field of either version, parameters first. */
export function compareRows(
  left: ISnapshot,
  right: ISnapshot,
  comparison: IComparison
): ICompareRow[] {
  return [
    ...sectionRows(
      'parameters',
      left.parameters,
      right.parameters,
      comparison.parameters
    ),
    ...sectionRows(
      'resources',
      left.resources,
      right.resources,
      comparison.resources
    )
  ];
}

/**
 * The versions a compare starts from: the previous one against the latest
 * (the only version against itself while there is one).
 */
export function defaultPair(numbers: readonly number[]): [number, number] {
  const last = numbers[numbers.length - 1] ?? 0;
  return [numbers[numbers.length - 2] ?? last, last];
}

/** A pointer as a field label: `/components/0/frequency` → `components › 0 › frequency`. */
export function pathLabel(path: string): string {
  const segments = jsonPointer.tokens(path);
  return segments.length > 0 ? segments.join(' › ') : '(all)';
}
