/**
 * The flow graph of a project: processes linked by the datasets they exchange.
 *
 * An edge A → B means some version of B took as input a dataset that process A
 * produced. Datasets no process of the project produced (uploads, or unknown
 * ids) become small dataset nodes feeding their consumers, so every input is
 * visible. Pure: built from the store's processes and a dataset lookup, so it is
 * tested without a server and rebuilt cheaply on every store change.
 */
import { IDataset, IProcess } from '../api';
import { Badge, badgeOf, latest } from '../states';

export interface IProcessNode {
  kind: 'process';
  id: string;
  processId: number;
  name: string;
  type: string;
  badge: Badge | 'none';
  version: number | null;
  /** 0–1 while the latest version runs and reports it, else null. */
  progress: number | null;
  message: string | null;
}

export interface IDatasetNode {
  kind: 'dataset';
  id: string;
  datasetId: number;
  name: string;
}

export type FlowNode = IProcessNode | IDatasetNode;

export interface IFlowEdge {
  from: string;
  to: string;
  /** The consumer's latest version uses it (older versions' links are drawn faded). */
  current: boolean;
  datasets: number[];
}

export interface IFlowGraph {
  nodes: FlowNode[];
  edges: IFlowEdge[];
}

export const PROCESS_SIZE = { width: 200, height: 56 };
export const DATASET_SIZE = { width: 150, height: 30 };

export function processNodeId(process: number): string {
  return `p${process}`;
}

export function isProcessNodeId(id: string): boolean {
  return id.startsWith('p');
}

export function datasetNodeId(dataset: number): string {
  return `d${dataset}`;
}

export function nodeSize(node: FlowNode): { width: number; height: number } {
  return node.kind === 'process' ? PROCESS_SIZE : DATASET_SIZE;
}

export function edgeKey(from: string, to: string): string {
  return `${from}>${to}`;
}

/**
 * Build the graph; processes in creation order (oldest first), so a new
 * process joins the end and the layout of the others barely moves.
 */
export function buildGraph(
  processes: readonly IProcess[],
  lookup: (id: number) => IDataset | undefined
): IFlowGraph {
  const ordered = [...processes].sort((a, b) => a.id - b.id);
  const inProject = new Set(ordered.map(p => p.id));
  const produced = new Map<number, IDataset>();
  for (const process of ordered) {
    for (const version of process.versions) {
      for (const dataset of version.outputs) {
        produced.set(dataset.id, dataset);
      }
    }
  }
  const nodes: FlowNode[] = ordered.map(process => {
    const version = latest(process);
    return {
      kind: 'process',
      id: processNodeId(process.id),
      processId: process.id,
      name: process.name,
      type: process.type,
      badge: badgeOf(version),
      version: version?.version ?? null,
      progress: version?.state === 'running' ? version.progress : null,
      message: version?.message ?? null
    };
  });
  const datasetNodes = new Map<number, IDatasetNode>();
  const edges = new Map<string, IFlowEdge>();
  for (const process of ordered) {
    const newest = latest(process);
    for (const version of process.versions) {
      for (const input of version.inputs) {
        const dataset = produced.get(input) ?? lookup(input);
        const producer = dataset?.process ?? null;
        let from: string;
        if (producer !== null && inProject.has(producer)) {
          if (producer === process.id) {
            continue;
          }
          from = processNodeId(producer);
        } else {
          from = datasetNodeId(input);
          if (!datasetNodes.has(input)) {
            datasetNodes.set(input, {
              kind: 'dataset',
              id: from,
              datasetId: input,
              name: dataset?.title || dataset?.name || `dataset ${input}`
            });
          }
        }
        const to = processNodeId(process.id);
        const key = edgeKey(from, to);
        const edge = edges.get(key) ?? {
          from,
          to,
          current: false,
          datasets: []
        };
        edge.current = edge.current || version === newest;
        if (!edge.datasets.includes(input)) {
          edge.datasets.push(input);
        }
        edges.set(key, edge);
      }
    }
  }
  const datasets = [...datasetNodes.values()].sort(
    (a, b) => a.datasetId - b.datasetId
  );
  return { nodes: [...nodes, ...datasets], edges: [...edges.values()] };
}

/** What decides the layout: the node and edge sets (not states, names or edge styles). */
export function layoutKey(graph: IFlowGraph): string {
  return `${graph.nodes.map(n => n.id).join(',')}|${graph.edges.map(e => edgeKey(e.from, e.to)).join(',')}`;
}

/** What decides how edges are drawn once nodes are placed. */
export function edgesKey(graph: IFlowGraph): string {
  return graph.edges
    .map(e => `${edgeKey(e.from, e.to)}${e.current ? '' : '~'}`)
    .join(',');
}
