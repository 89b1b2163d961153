/**
 * The flow view's node elements: one <g> per process or dataset, created once
 * and patched in place, writing to the DOM only what changed since last drawn.
 */
import { badgeColor, badgeText } from '../states';
import {
  DATASET_SIZE,
  FlowNode,
  IDatasetNode,
  IProcessNode,
  PROCESS_SIZE
} from './graph';
import { svg } from './svg';

const PILL_WIDTH = 70;

interface INodeViewBase {
  g: SVGGElement;
  title: SVGTitleElement;
  /** Hidden because it is far outside the view. */
  culled: boolean;
  width: number;
  height: number;
}

/** A process node: name, version, type line, state pill and the progress bar while running. */
export interface IProcessNodeView extends INodeViewBase {
  kind: 'process';
  name: SVGTSpanElement;
  version: SVGTSpanElement;
  type: SVGTextElement;
  state: SVGTextElement;
  progress: SVGRectElement | null;
  /** What is drawn, to write to the DOM only what changed. */
  drawn: IProcessNode | null;
}

/** A dataset no process of the project made: a pill with its name. */
export interface IDatasetNodeView extends INodeViewBase {
  kind: 'dataset';
  name: SVGTextElement;
  drawn: IDatasetNode | null;
}

export type NodeView = IProcessNodeView | IDatasetNodeView;

/** The elements of a new node, not yet in the document. */
export function createNodeView(node: FlowNode): NodeView {
  const view =
    node.kind === 'process'
      ? processView(node.processId)
      : datasetView(node.datasetId);
  view.g.dataset.nodeId = node.id;
  return view;
}

/** Write into a node's DOM only what changed since it was last drawn. */
export function patchNodeView(view: NodeView, node: FlowNode): void {
  if (view.kind === 'dataset' && node.kind === 'dataset') {
    patchDataset(view, node);
  } else if (view.kind === 'process' && node.kind === 'process') {
    patchProcess(view, node);
  }
}

function processView(process: number): IProcessNodeView {
  const { width, height } = PROCESS_SIZE;
  const g = svg('g', {
    class: 'nf-FlowNode',
    'data-testid': 'nf-flow-node',
    'data-process-id': String(process),
    role: 'option',
    tabindex: '-1',
    'aria-selected': 'false'
  });
  const title = svg('title', {});
  const name = svg('tspan', {});
  const version = svg('tspan', { class: 'nf-FlowNode-version', dx: '6' });
  const heading = svg('text', { class: 'nf-FlowNode-name', x: '14', y: '22' });
  heading.append(name, version);
  const type = svg('text', { class: 'nf-FlowNode-type', x: '14', y: '43' });
  const state = svg('text', {
    class: 'nf-FlowNode-state',
    x: String(width - 8 - PILL_WIDTH / 2),
    y: '43'
  });
  g.append(
    title,
    svg('rect', {
      class: 'nf-FlowNode-body',
      width: String(width),
      height: String(height),
      rx: '6'
    }),
    svg('rect', {
      class: 'nf-FlowNode-stripe',
      x: '0.75',
      y: '0.75',
      width: '5',
      height: String(height - 1.5)
    }),
    heading,
    type,
    svg('rect', {
      class: 'nf-FlowNode-pill',
      x: String(width - 8 - PILL_WIDTH),
      y: '31',
      width: String(PILL_WIDTH),
      height: '16',
      rx: '8'
    }),
    state
  );
  return {
    kind: 'process',
    g,
    title,
    name,
    version,
    type,
    state,
    progress: null,
    drawn: null,
    culled: false,
    width,
    height
  };
}

function datasetView(dataset: number): IDatasetNodeView {
  const { width, height } = DATASET_SIZE;
  const g = svg('g', {
    class: 'nf-FlowDataset',
    'data-testid': 'nf-flow-dataset',
    'data-dataset-id': String(dataset),
    role: 'img'
  });
  const title = svg('title', {});
  const name = svg('text', {
    class: 'nf-FlowDataset-name',
    x: String(width / 2),
    y: String(height / 2 + 4)
  });
  g.append(
    title,
    svg('rect', {
      class: 'nf-FlowDataset-body',
      width: String(width),
      height: String(height),
      rx: String(height / 2)
    }),
    name
  );
  return {
    kind: 'dataset',
    g,
    title,
    name,
    drawn: null,
    culled: false,
    width,
    height
  };
}

function patchDataset(view: IDatasetNodeView, node: IDatasetNode): void {
  const was = view.drawn;
  view.drawn = node;
  if (was?.name !== node.name) {
    view.name.textContent = clip(node.name, 20);
    view.title.textContent = `${node.name} (dataset ${node.datasetId})`;
    view.g.setAttribute('aria-label', `Dataset ${node.name}`);
  }
}

function patchProcess(view: IProcessNodeView, node: IProcessNode): void {
  const old = view.drawn;
  view.drawn = node;
  if (old?.badge !== node.badge) {
    view.g.dataset.state = node.badge;
    view.g.style.setProperty('--nf-state', badgeColor(node.badge));
  }
  if (old?.name !== node.name) {
    view.name.textContent = clip(node.name, 20);
  }
  if (old?.version !== node.version) {
    view.version.textContent = node.version === null ? '' : `v${node.version}`;
  }
  if (old?.type !== node.type) {
    view.type.textContent = clip(node.type, 17);
  }
  const percent =
    node.progress === null ? '' : ` ${Math.round(node.progress * 100)}%`;
  const label = node.badge === 'none' ? 'no run' : badgeText(node.badge);
  if (old?.badge !== node.badge || old?.progress !== node.progress) {
    view.state.textContent = label + percent;
    setProgress(view, node.progress);
  }
  if (
    old?.badge !== node.badge ||
    old?.progress !== node.progress ||
    old?.name !== node.name ||
    old?.type !== node.type ||
    old?.version !== node.version ||
    old?.message !== node.message
  ) {
    const version = node.version === null ? '' : `, version ${node.version}`;
    view.g.setAttribute(
      'aria-label',
      `${node.name}, ${node.type}${version}, ${label}${percent}`
    );
    view.title.textContent =
      `${node.name} (${node.type}${version})\n${label}${percent}` +
      (node.message ? `\n${node.message}` : '');
  }
}

/** The thin bar along a running node's bottom edge. */
function setProgress(view: IProcessNodeView, progress: number | null): void {
  if (progress === null) {
    view.progress?.remove();
    view.progress = null;
    return;
  }
  if (!view.progress) {
    view.progress = svg('rect', {
      class: 'nf-FlowNode-progress',
      x: '6',
      y: String(view.height - 5),
      height: '3',
      rx: '1.5'
    });
    view.g.append(view.progress);
  }
  const fraction = Math.min(1, Math.max(0, progress));
  view.progress.setAttribute(
    'width',
    String(Math.round(fraction * (view.width - 12) * 10) / 10)
  );
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
