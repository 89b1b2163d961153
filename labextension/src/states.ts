/**
 * How a version's state is shown: one badge vocabulary for the tree, the flow
 * graph, the editor, the log and the notifications. Cancelled, deadline and
 * out-of-memory runs are failures to the server but distinct outcomes to a
 * user, so they get their own badges and words.
 */
import { IProcess, State, IVersion } from './api';

/** The failure reasons a user reads as an outcome of their own, and the words for them. */
const OUTCOMES = {
  cancelled: 'cancelled',
  deadline: 'deadline exceeded',
  oom: 'out of memory'
} as const;

type Outcome = keyof typeof OUTCOMES;

export type Badge = State | Outcome;

function isOutcome(reason: string | null): reason is Outcome {
  return reason !== null && Object.hasOwn(OUTCOMES, reason);
}

export function badgeOf(
  version: Pick<IVersion, 'state' | 'reason'> | undefined
): Badge | 'none' {
  if (!version) {
    return 'none';
  }
  if (version.state === 'failed' && isOutcome(version.reason)) {
    return version.reason;
  }
  return version.state;
}

/** What a badge says: "deadline exceeded", not the reason code "deadline". */
export function badgeText(badge: Badge | 'none'): string {
  return isOutcome(badge) ? OUTCOMES[badge] : badge;
}

/** A version's state in a sentence: its outcome, or "failed (reason)" for other failures. */
export function stateText(version: Pick<IVersion, 'state' | 'reason'>): string {
  const badge = badgeOf(version);
  return badge === 'failed'
    ? `failed (${version.reason ?? 'error'})`
    : badgeText(badge);
}

export function latest(process: IProcess): IVersion | undefined {
  return process.versions[process.versions.length - 1];
}

/** The CSS colour variable of a badge (JupyterLab's theme colours, light and dark). */
export function badgeColor(badge: Badge | 'none'): string {
  switch (badge) {
    case 'completed':
      return 'var(--jp-success-color1)';
    case 'failed':
    case 'oom':
      return 'var(--jp-error-color1)';
    case 'deadline':
      return 'var(--jp-warn-color0)';
    case 'cancelled':
      return 'var(--jp-layout-color4)';
    case 'running':
      return 'var(--jp-brand-color1)';
    case 'queued':
      return 'var(--jp-warn-color2)';
    case 'pending':
      return 'var(--jp-layout-color3)';
    default:
      return 'var(--jp-layout-color2)';
  }
}

/** Processes grouped by type, types in name order, newest process first within a type. */
export function groupByType(processes: IProcess[]): [string, IProcess[]][] {
  const groups = new Map<string, IProcess[]>();
  for (const process of processes) {
    const group = groups.get(process.type) ?? [];
    group.push(process);
    groups.set(process.type, group);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, list]) => [type, list.sort((a, b) => b.id - a.id)]);
}
