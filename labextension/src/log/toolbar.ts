/**
 * The log view's toolbar, JupyterLab's own: the version picker, the filter,
 * Follow, Jump to end and Timestamps.
 */
import { Toolbar, ToolbarButton } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import { ActionButton } from '../toolbar';

export interface ILogToolbarActions {
  /** Show version `version` of the process shown. */
  pickVersion(version: number): void;
  /** The filter's text changed. */
  filter(query: string): void;
  /** Follow switched on or off. */
  follow(on: boolean): void;
  jumpToEnd(): void;
  /** Timestamps switched on or off. */
  timestamps(on: boolean): void;
}

export class LogToolbar extends Toolbar {
  constructor(actions: ILogToolbarActions) {
    super();
    this.addClass('nf-Log-toolbar');
    this.node.setAttribute('aria-label', 'Log controls');

    const select = this._select;
    select.className = 'nf-Select nf-Log-version';
    select.dataset.testid = 'nf-log-version';
    select.setAttribute('aria-label', 'Version');
    select.addEventListener('change', () => {
      const version = Number(select.value);
      if (Number.isInteger(version)) {
        actions.pickVersion(version);
      }
    });

    const input = this._filter;
    input.className = 'nf-Log-filter';
    input.type = 'search';
    input.placeholder = 'Filter lines';
    input.dataset.testid = 'nf-log-filter';
    input.setAttribute('aria-label', 'Filter lines (case-insensitive)');
    input.addEventListener('input', () => actions.filter(input.value));

    this._follow = new ToolbarButton({
      label: 'Follow',
      tooltip:
        'Follow new lines (scrolling up pauses, scrolling to the end resumes)',
      dataset: { testid: 'nf-log-follow' },
      onClick: () => actions.follow(this._follow.pressed)
    });
    this._end = new ActionButton({
      label: 'Jump to end',
      tooltip: 'Jump to the last line and follow',
      dataset: { testid: 'nf-log-end' },
      onClick: () => actions.jumpToEnd()
    });
    this._timestamps = new ToolbarButton({
      label: 'Timestamps',
      tooltip: 'Show the time of each line',
      dataset: { testid: 'nf-log-timestamps' },
      onClick: () => actions.timestamps(this._timestamps.pressed)
    });

    this.addItem('version', new Widget({ node: select }));
    this.addItem('filter', new Widget({ node: input }));
    this.addItem('follow', this._follow);
    this.addItem('end', this._end);
    this.addItem('timestamps', this._timestamps);
  }

  /** Show Follow pressed (and Jump to end, which would change nothing, disabled) or not. */
  set following(on: boolean) {
    this._follow.pressed = on;
    this._end.enabled = !on;
  }

  /**
   * Offer `options` ([value, label] pairs) with `value` chosen; the picker is
   * disabled when there is no process to pick a version of.
   */
  setVersions(options: [string, string][], value: string): void {
    const signature = JSON.stringify(options);
    if (signature !== this._signature) {
      this._signature = signature;
      this._select.replaceChildren(
        ...options.map(([optionValue, label]) => {
          const option = document.createElement('option');
          option.value = optionValue;
          option.textContent = label;
          return option;
        })
      );
    }
    this._select.value = value;
    this._select.disabled = value === '';
  }

  private readonly _select = document.createElement('select');
  private readonly _filter = document.createElement('input');
  private readonly _follow: ToolbarButton;
  private readonly _end: ActionButton;
  private readonly _timestamps: ToolbarButton;
  private _signature = '';
}
