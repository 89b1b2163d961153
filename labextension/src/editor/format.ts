/** How the editor writes credits, times and durations. */

/**
 * A server timestamp as a Date: the API sends epoch seconds, though its
 * TypeScript types say string; an ISO string is read as well.
 */
export function toDate(value: string | number | null | undefined): Date | null {
  if (value === null || value === undefined || value === '') {
    return null;
  }
  const numeric = typeof value === 'number' ? value : Number(value);
  const date = Number.isFinite(numeric)
    ? new Date(numeric * 1000)
    : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function formatCredits(amount: number | null | undefined): string {
  if (amount === null || amount === undefined || !Number.isFinite(amount)) {
    return '—';
  }
  return amount.toLocaleString(undefined, { maximumFractionDigits: 4 });
}

/** A clock time for today's timestamps, a date and time for older ones. */
export function formatTime(
  value: string | number | null,
  now: Date = new Date()
): string {
  const date = toDate(value);
  if (!date) {
    return '—';
  }
  return date.toDateString() === now.toDateString()
    ? date.toLocaleTimeString()
    : date.toLocaleString();
}

/** A duration in s, min or h, to the precision a glance needs. */
export function formatDuration(seconds: number): string {
  if (seconds < 60) {
    return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  }
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

/** How long a version ran, or has been running so far. */
export function runTime(
  started: string | number | null,
  finished: string | number | null,
  now: Date = new Date()
): string {
  const start = toDate(started);
  if (!start) {
    return '—';
  }
  const end = toDate(finished);
  const seconds = Math.max(
    0,
    ((end ?? now).getTime() - start.getTime()) / 1000
  );
  return end ? formatDuration(seconds) : `${formatDuration(seconds)} so far`;
}
