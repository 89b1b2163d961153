/**
 * The log view's status line: the version's state badge, then the number of
 * lines (and matches), the connection, and what went wrong.
 */
import { ConnectionStatus } from '../events';
import { Badge, badgeColor, badgeText } from '../states';
import { element } from './rows';

const CONNECTION_TEXT: Record<ConnectionStatus, string> = {
  open: 'connected',
  connecting: 'connecting…',
  closed: 'disconnected, reconnecting…'
};

export interface ILogStatus {
  /** Whether a version is shown. */
  shown: boolean;
  badge: Badge | 'none';
  lines: number;
  /** Lines matching the filter, null without one. */
  matches: number | null;
  loading: boolean;
  connection: ConnectionStatus;
  error: string | null;
}

export class LogStatusLine {
  readonly node = element('div', 'nf-Log-status');

  constructor() {
    this.node.dataset.testid = 'nf-log-status';
    this.node.append(this._badge, this._text);
  }

  update(status: ILogStatus): void {
    const { badge, lines, matches, connection, error } = status;
    const parts: string[] = [];
    if (status.shown) {
      parts.push(`${lines} ${lines === 1 ? 'line' : 'lines'}`);
      if (matches !== null) {
        parts.push(`${matches} matching`);
      }
      parts.push(
        status.loading ? 'loading history…' : CONNECTION_TEXT[connection]
      );
      if (error) {
        parts.push(error);
      }
    } else {
      parts.push('no process selected');
    }
    const text = parts.join(' · ');
    if (text !== this._text.textContent) {
      this._text.textContent = text;
    }
    this._badge.hidden = badge === 'none';
    if (this._badge.dataset.badge !== badge) {
      this._badge.dataset.badge = badge;
      this._badge.textContent = badgeText(badge);
      this._badge.style.background = badgeColor(badge);
    }
    const data = this.node.dataset;
    data.lines = String(lines);
    data.matches = String(matches ?? lines);
    data.connection = connection;
    data.state = badge;
    this.node.classList.toggle('nf-mod-error', error !== null);
  }

  private readonly _badge = element('span', 'nf-Badge nf-Log-state');
  private readonly _text = element('span', 'nf-Log-statusText');
}
