/**
 * The main-area views (flow, editor, log, plot, map) as ordinary Lab widgets
 * the dock panel can split, tab and restore: one of a kind is reused unless a
 * fresh one is asked for.
 */
import { MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { ToolbarButton, launchIcon } from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';
import { CommandIds } from '../commands';
import { INagelfluhContext, ViewKind } from '../context';
import { flowIcon, nagelfluhIcon } from '../icons';
import * as editorView from '../views/editor';
import * as flowView from '../views/flow';
import * as logView from '../views/log';
import * as mapView from '../views/map';
import * as plotView from '../views/plot';

type ViewFactory = (
  ctx: INagelfluhContext,
  args: ReadonlyPartialJSONObject
) => Widget;

export const VIEWS: Record<ViewKind, { label: string; factory: ViewFactory }> =
  {
    flow: { label: 'Flow', factory: flowView.create },
    editor: { label: 'Process editor', factory: editorView.create },
    log: { label: 'Log', factory: logView.create },
    plot: { label: 'Plot', factory: plotView.create },
    map: { label: 'Map', factory: mapView.create }
  };

/** The icon of a kind of view. */
export function viewIcon(kind: ViewKind) {
  return kind === 'flow' ? flowIcon : nagelfluhIcon;
}

export class ViewOpener {
  readonly tracker = new WidgetTracker<MainAreaWidget>({
    namespace: 'nagelfluh-views'
  });

  /** @param _poppedOut - in a pop-out window, views offer no pop-out of their own. */
  constructor(
    private readonly _ctx: INagelfluhContext,
    private readonly _poppedOut: boolean
  ) {}

  /** Show the view of `kind` (configured by `args`), a new one if `args.fresh` or none is open. */
  open(kind: ViewKind, args: ReadonlyPartialJSONObject = {}): MainAreaWidget {
    const app = this._ctx.app;
    const existing = this.tracker.find(
      w => w.content.node.dataset.nfKind === kind && w.isAttached
    );
    if (existing && !args.fresh) {
      const content = existing.content as Widget & {
        configure?(a: ReadonlyPartialJSONObject): void;
      };
      content.configure?.(args);
      app.shell.activateById(existing.id);
      return existing;
    }
    const content = VIEWS[kind].factory(this._ctx, args);
    content.node.dataset.nfKind = kind;
    const widget = new MainAreaWidget({ content });
    widget.id =
      typeof args.id === 'string'
        ? args.id
        : `nagelfluh-${kind}-${Date.now()}-${this._counter++}`;
    widget.title.label = content.title.label || VIEWS[kind].label;
    widget.title.icon = viewIcon(kind);
    widget.title.closable = true;
    widget.addClass('nf-View');
    if (!this._poppedOut) {
      widget.toolbar.addItem(
        'pop-out',
        new ToolbarButton({
          icon: launchIcon,
          className: 'nf-PopOut',
          tooltip: 'Pop out into its own window',
          onClick: () => void app.commands.execute(CommandIds.popOut, { kind })
        })
      );
    }
    app.shell.add(widget, 'main');
    void this.tracker.add(widget);
    app.shell.activateById(widget.id);
    return widget;
  }

  private _counter = 0;
}
