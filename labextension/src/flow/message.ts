/**
 * What the flow view says instead of a graph: no project, loading, an error,
 * or an empty project (then with a button to create the first process).
 */
import type { IFlowGraph } from './graph';

/** The part of the project store the message reads. */
export interface IMessageSource {
  readonly loading: boolean;
  readonly error: string | null;
}

export class FlowMessage {
  readonly node = document.createElement('div');

  /** @param _newProcess - what the "New process" button does. */
  constructor(private readonly _newProcess: () => void) {
    this.node.className = 'nf-Flow-message';
    this.node.dataset.testid = 'nf-flow-message';
  }

  /** Show the message for `graph` of `project` (none while there is a graph). */
  update(
    store: IMessageSource,
    project: number | null,
    graph: IFlowGraph
  ): void {
    let text = '';
    if (store.error && graph.nodes.length === 0) {
      text = `Could not load the processes: ${store.error}`;
    } else if (project === null) {
      text = 'No project is selected.';
    } else if (graph.nodes.length === 0) {
      text = store.loading
        ? 'Loading processes…'
        : 'This project has no processes yet.';
    }
    const offerNew =
      text !== '' && project !== null && !store.loading && !store.error;
    const shown = `${text}|${offerNew}`;
    if (shown === this._shown) {
      return;
    }
    this._shown = shown;
    this._show(text, offerNew);
  }

  private _show(text: string, offerNew: boolean): void {
    this.node.replaceChildren();
    this.node.hidden = text === '';
    if (!text) {
      return;
    }
    const paragraph = document.createElement('p');
    paragraph.textContent = text;
    this.node.append(paragraph);
    if (offerNew) {
      const button = document.createElement('button');
      button.className = 'jp-Button nf-Button nf-primary';
      button.dataset.testid = 'nf-flow-new-process';
      button.textContent = 'New process';
      button.addEventListener('click', () => this._newProcess());
      this.node.append(button);
    }
  }

  private _shown = '';
}
