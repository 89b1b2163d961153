import { describe, expect, it } from 'vitest';
import { badgeOf, badgeText, groupByType, stateText } from '../src/states';
import { popOutKind, popOutUrl } from '../src/popout';
import { makeProcess } from './factories';

describe('state badges', () => {
  it('shows cancelled, deadline and out-of-memory failures as their own outcome', () => {
    expect(badgeOf({ state: 'failed', reason: 'cancelled' })).toBe('cancelled');
    expect(badgeOf({ state: 'failed', reason: 'deadline' })).toBe('deadline');
    expect(badgeOf({ state: 'failed', reason: 'oom' })).toBe('oom');
    expect(badgeOf({ state: 'failed', reason: 'error' })).toBe('failed');
    expect(badgeOf({ state: 'running', reason: null })).toBe('running');
    expect(badgeOf(undefined)).toBe('none');
  });

  it('calls a cancelled run cancelled, an overrun deadline exceeded and an oom out of memory, never failed', () => {
    expect(stateText({ state: 'failed', reason: 'cancelled' })).toBe(
      'cancelled'
    );
    expect(stateText({ state: 'failed', reason: 'deadline' })).toBe(
      'deadline exceeded'
    );
    expect(stateText({ state: 'failed', reason: 'oom' })).toBe('out of memory');
    expect(badgeText('deadline')).toBe('deadline exceeded');
    expect(badgeText('oom')).toBe('out of memory');
  });

  it('tells other failures by their reason and other states as they are', () => {
    expect(stateText({ state: 'failed', reason: 'server-restart' })).toBe(
      'failed (server-restart)'
    );
    expect(stateText({ state: 'failed', reason: null })).toBe('failed (error)');
    expect(stateText({ state: 'completed', reason: null })).toBe('completed');
    expect(badgeText('none')).toBe('none');
  });

  it('groups the tree by type in name order with the newest process first', () => {
    const groups = groupByType([
      makeProcess(1, 'fft'),
      makeProcess(3, 'fft'),
      makeProcess(2, 'inversion')
    ]);
    expect(groups.map(([type, list]) => [type, list.map(p => p.id)])).toEqual([
      ['fft', [3, 1]],
      ['inversion', [2]]
    ]);
  });
});

describe('pop-out windows', () => {
  it('open the view alone in its own workspace under the base URL', () => {
    const url = popOutUrl('plot', 'http://host:8888/user/me/lab');
    expect(url).toBe(
      'http://host:8888/user/me/lab/workspaces/nagelfluh-plot?reset=&nagelfluh-view=plot'
    );
    expect(popOutKind(url)).toBe('plot');
  });

  it('ignore an ordinary Lab page and unknown view names', () => {
    expect(popOutKind('http://host/lab?token=x')).toBeNull();
    expect(popOutKind('http://host/lab?nagelfluh-view=evil')).toBeNull();
  });
});
