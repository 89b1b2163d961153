/**
 * The flow view's toolbar, JupyterLab's own: fit, zoom in and out, re-layout,
 * and a count of processes and links.
 */
import {
  Toolbar,
  ToolbarButtonComponent,
  addIcon
} from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import { zoomOutIcon } from '../icons';
import { ActionButton } from '../toolbar';
import type { IFlowGraph } from './graph';

export interface IFlowToolbarActions {
  fit(): void;
  zoomIn(): void;
  zoomOut(): void;
  relayout(): void;
}

export class FlowToolbar extends Toolbar {
  constructor(actions: IFlowToolbarActions) {
    super();
    this.addClass('nf-Flow-toolbar');
    this.node.setAttribute('aria-label', 'Flow graph');
    this._status.addClass('nf-Flow-status');
    const buttons: [string, ToolbarButtonComponent.IProps][] = [
      [
        'fit',
        {
          label: 'Fit',
          tooltip: 'Fit the whole graph in view',
          onClick: () => actions.fit()
        }
      ],
      [
        'zoom-in',
        { icon: addIcon, tooltip: 'Zoom in', onClick: () => actions.zoomIn() }
      ],
      [
        'zoom-out',
        {
          icon: zoomOutIcon,
          tooltip: 'Zoom out',
          onClick: () => actions.zoomOut()
        }
      ],
      [
        'relayout',
        {
          label: 'Re-layout',
          tooltip: 'Forget dragged positions and lay the graph out again',
          onClick: () => actions.relayout()
        }
      ]
    ];
    for (const [name, props] of buttons) {
      const dataset = { testid: `nf-flow-${name}` };
      this.addItem(name, new ActionButton({ ...props, dataset }));
    }
    this.addItem('spacer', Toolbar.createSpacerItem());
    this.addItem('status', this._status);
  }

  /** Show the size of the graph (nothing when it is empty). */
  showCounts(graph: IFlowGraph): void {
    const processes = graph.nodes.filter(
      node => node.kind === 'process'
    ).length;
    const links = graph.edges.length;
    const status =
      graph.nodes.length === 0
        ? ''
        : `${plural(processes, 'process', 'processes')} · ${plural(links, 'link', 'links')}`;
    if (this._status.node.textContent !== status) {
      this._status.node.textContent = status;
    }
  }

  private readonly _status = new Widget({
    node: document.createElement('span')
  });
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}
