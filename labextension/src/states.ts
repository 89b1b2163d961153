/**
 * How a version's state is shown: one badge vocabulary for the tree, the flow
 * graph and the editor. Cancelled and deadline runs are failures to the server
 * but distinct outcomes to a user, so they get their own badges.
 */
import { Process, State, Version } from './api';

export type Badge = State | 'cancelled' | 'deadline';

export function badgeOf(version: Pick<Version, 'state' | 'reason'> | undefined): Badge | 'none' {
  if (!version) {
    return 'none';
  }
  if (version.state === 'failed' && (version.reason === 'cancelled' || version.reason === 'deadline')) {
    return version.reason;
  }
  return version.state;
}

export function latest(process: Process): Version | undefined {
  return process.versions[process.versions.length - 1];
}

/** The CSS colour variable of a badge (JupyterLab's theme colours, light and dark). */
export function badgeColor(badge: Badge | 'none'): string {
  switch (badge) {
    case 'completed':
      return 'var(--jp-success-color1)';
    case 'failed':
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
export function groupByType(processes: Process[]): [string, Process[]][] {
  const groups = new Map<string, Process[]>();
  for (const process of processes) {
    const group = groups.get(process.type) ?? [];
    group.push(process);
    groups.set(process.type, group);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, list]) => [type, list.sort((a, b) => b.id - a.id)]);
}
