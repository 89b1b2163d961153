/**
 * A notification of work that may take a while (an upload from the file
 * browser): nothing for its first second, then "… n%" while it runs, then its
 * result.
 *
 * JupyterLab 4 drops an update of a toast it has not shown yet: it re-creates
 * the toast under the same id, which react-toastify ignores, and the toast
 * keeps its first message. So quick work tells only its result, and a toast is
 * updated only once it has been up for that second.
 */
import type { Notification } from '@jupyterlab/apputils';

export const QUIET_MS = 1000;

/** What the notice needs of JupyterLab's Notification (tests hand in a recorder). */
export type Notifier = Pick<typeof Notification, 'emit' | 'update'>;

export type Outcome = 'success' | 'info' | 'error';

export class ProgressNotice {
  constructor(
    private readonly message: string,
    private readonly notifier: Notifier
  ) {
    this._timer = setTimeout(() => {
      this._id = notifier.emit(message, 'in-progress', { autoClose: false });
      this._shownAt = Date.now();
    }, QUIET_MS);
  }

  /** Tell how far the work is, in steps of 5 %. */
  readonly progress = (done: number, total: number): void => {
    const percent = Math.floor((100 * done) / Math.max(total, 1));
    if (
      this._id !== null &&
      Date.now() - this._shownAt >= QUIET_MS &&
      percent >= this._percent + 5
    ) {
      this._percent = percent;
      this.notifier.update({
        id: this._id,
        message: `${this.message} ${percent}%`
      });
    }
  };

  /** Replace the notice with the work's result (an error stays until closed). */
  async end(message: string, type: Outcome): Promise<void> {
    clearTimeout(this._timer);
    const autoClose = type === 'error' ? false : 5000;
    if (this._id === null) {
      this.notifier.emit(message, type, { autoClose });
      return;
    }
    const wait = this._shownAt + QUIET_MS - Date.now();
    if (wait > 0) {
      await new Promise(resolve => setTimeout(resolve, wait));
    }
    this.notifier.update({ id: this._id, message, type, autoClose });
  }

  private _timer: ReturnType<typeof setTimeout>;
  private _id: string | null = null;
  private _shownAt = 0;
  private _percent = 0;
}
