import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Notifier, ProgressNotice, QUIET_MS } from '../src/notice';

/** Notifications as the center would hold them: id → [type, message, autoClose]. */
class Recorder {
  shown = new Map<string, [string, string, unknown]>();

  notifier: Notifier = {
    emit: (message, type = 'default', options = {}) => {
      const id = String(this.shown.size + 1);
      this.shown.set(id, [type, message, options.autoClose]);
      return id;
    },
    update: args => {
      const [type, message, autoClose] = this.shown.get(args.id)!;
      this.shown.set(args.id, [
        args.type ?? type,
        args.message ?? message,
        args.autoClose ?? autoClose
      ]);
      return true;
    }
  };

  get list(): [string, string, unknown][] {
    return [...this.shown.values()];
  }
}

describe('the notice of an upload from the file browser', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('tells only the result of quick work: no toast to update before it is shown', async () => {
    const recorder = new Recorder();
    const notice = new ProgressNotice('Uploading a.nc…', recorder.notifier);
    notice.progress(10, 10);
    await notice.end('a.nc is now dataset 3', 'success');
    vi.advanceTimersByTime(5 * QUIET_MS);
    expect(recorder.list).toEqual([['success', 'a.nc is now dataset 3', 5000]]);
  });

  it('shows slow work in progress, in steps of 5 %, then turns it into the result', async () => {
    const recorder = new Recorder();
    const notice = new ProgressNotice('Uploading big.nc…', recorder.notifier);
    vi.advanceTimersByTime(QUIET_MS);
    expect(recorder.list).toEqual([
      ['in-progress', 'Uploading big.nc…', false]
    ]);
    notice.progress(30, 100); // too soon after the toast appeared: the update would be lost
    vi.advanceTimersByTime(QUIET_MS);
    notice.progress(42, 100);
    notice.progress(44, 100);
    expect(recorder.list).toEqual([
      ['in-progress', 'Uploading big.nc… 42%', false]
    ]);
    await notice.end('big.nc was not uploaded: storage full', 'error');
    expect(recorder.list).toEqual([
      ['error', 'big.nc was not uploaded: storage full', false]
    ]);
  });

  it('waits until a fresh toast has been up long enough before giving the result', async () => {
    const recorder = new Recorder();
    const notice = new ProgressNotice('Uploading c.nc…', recorder.notifier);
    vi.advanceTimersByTime(QUIET_MS);
    const ended = notice.end('c.nc is now dataset 4', 'success');
    expect(recorder.list).toEqual([['in-progress', 'Uploading c.nc…', false]]);
    await vi.advanceTimersByTimeAsync(QUIET_MS);
    await ended;
    expect(recorder.list).toEqual([['success', 'c.nc is now dataset 4', 5000]]);
  });
});
