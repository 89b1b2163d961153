import { afterEach, describe, expect, it, vi } from 'vitest';
import { ReadonlyPartialJSONValue } from '@lumino/coreutils';
import { Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';
import { IDataset, IProcess, State } from '../src/api';
import { Selection } from '../src/selection';
import { FlowView, IFlowContext, POSITIONS_KEY } from '../src/views/flow';
import { makeDataset, makeProcess, makeVersion } from './factories';
import { rendered } from './toolbar';

class FakeStore {
  changed = new Signal<this, void>(this);
  processes: IProcess[] = [];
  loading = false;
  error: string | null = null;
  dataset(): IDataset | undefined {
    return undefined;
  }
  emit(): void {
    this.changed.emit();
  }
}

class FakeState {
  values = new Map<string, ReadonlyPartialJSONValue>();
  async fetch(key: string) {
    return this.values.get(key);
  }
  async save(key: string, value: ReadonlyPartialJSONValue) {
    this.values.set(key, value);
  }
  async remove(key: string) {
    this.values.delete(key);
  }
}

/** Process `id` with one version in `state` that reads `inputs` and writes dataset `id * 10`. */
function proc(
  id: number,
  type: string,
  state: State,
  inputs: number[] = [],
  progress = 0
): IProcess {
  return makeProcess(id, type, [
    makeVersion(id, 1, {
      state,
      progress,
      inputs,
      outputs: [makeDataset(id * 10, id)]
    })
  ]);
}

const frame = () =>
  new Promise<void>(resolve => requestAnimationFrame(() => resolve()));
/** Let the state database answer, then the view draw. */
const settle = async () => {
  await new Promise(resolve => setTimeout(resolve, 0));
  await frame();
  await frame();
};

let widgets: Widget[] = [];

async function open(
  store: FakeStore,
  state: FakeState,
  selection: Selection
): Promise<FlowView> {
  const ctx: IFlowContext = {
    store,
    selection,
    state,
    app: { commands: { execute: vi.fn() } }
  };
  const view = new FlowView(ctx);
  Widget.attach(view, document.body);
  widgets.push(view);
  await settle();
  return view;
}

function setup(processes: IProcess[]) {
  const store = new FakeStore();
  store.processes = processes;
  const state = new FakeState();
  const selection = new Selection(null);
  selection.setProject(1);
  return { store, state, selection };
}

const node = (view: FlowView, id: number) =>
  view.node.querySelector<SVGGElement>(
    `[data-testid="nf-flow-node"][data-process-id="${id}"]`
  )!;

function press(target: Element, type: string, x: number, y: number) {
  target.dispatchEvent(
    new MouseEvent(type, { bubbles: true, clientX: x, clientY: y, button: 0 })
  );
}

afterEach(() => {
  widgets.forEach(w => w.dispose());
  widgets = [];
});

describe('flow view', () => {
  it('draws one node per process with its state, linked to its producer', async () => {
    const { store, state, selection } = setup([
      proc(1, 'synthetic-signal', 'completed'),
      proc(2, 'fft', 'running', [10])
    ]);
    const view = await open(store, state, selection);
    expect(
      view.node.querySelector('svg[data-testid="nf-flow"]')
    ).not.toBeNull();
    for (const id of [
      'nf-flow-fit',
      'nf-flow-zoom-in',
      'nf-flow-zoom-out',
      'nf-flow-relayout'
    ]) {
      expect(await rendered(view, id)).not.toBeNull();
    }
    expect(node(view, 1).dataset.state).toBe('completed');
    expect(node(view, 2).dataset.state).toBe('running');
    // The server reports progress 0 until a running process says more.
    expect(node(view, 2).getAttribute('aria-label')).toBe(
      'fft-2, fft, version 1, running 0%'
    );
    expect(
      view.node.querySelector('.nf-Flow-edge.nf-mod-current')!.getAttribute('d')
    ).toMatch(/^M200 /);
  });

  it('says so when the project has no processes', async () => {
    const { store, state, selection } = setup([]);
    const view = await open(store, state, selection);
    const message = view.node.querySelector<HTMLElement>(
      '[data-testid="nf-flow-message"]'
    )!;
    expect(message.hidden).toBe(false);
    expect(message.textContent).toContain('no processes');
  });

  it('patches states and progress in place without moving nodes', async () => {
    const processes = [
      proc(1, 'synthetic-signal', 'running'),
      proc(2, 'fft', 'queued', [10])
    ];
    const { store, state, selection } = setup(processes);
    const view = await open(store, state, selection);
    const element = node(view, 2);
    const placed = element.getAttribute('transform');
    processes[0].versions[0].state = 'completed';
    processes[1].versions[0].state = 'running';
    processes[1].versions[0].progress = 0.5;
    store.emit();
    store.emit();
    await frame();
    expect(node(view, 2)).toBe(element);
    expect(element.getAttribute('transform')).toBe(placed);
    expect(element.dataset.state).toBe('running');
    expect(element.querySelector('.nf-FlowNode-state')!.textContent).toBe(
      'running 50%'
    );
    expect(
      Number(
        element.querySelector('.nf-FlowNode-progress')!.getAttribute('width')
      )
    ).toBe(94);
    expect(node(view, 1).dataset.state).toBe('completed');
  });

  it('lays the graph out again when a new link appears', async () => {
    const processes = [
      proc(1, 'synthetic-signal', 'completed'),
      proc(2, 'fft', 'completed')
    ];
    const { store, state, selection } = setup(processes);
    const view = await open(store, state, selection);
    expect(
      view.node.querySelector('.nf-Flow-edge.nf-mod-current')!.getAttribute('d')
    ).toBe('');
    processes[1].versions[0].inputs = [10];
    store.emit();
    await frame();
    const first = node(view, 1).getAttribute('transform')!;
    const second = node(view, 2).getAttribute('transform')!;
    const x = (t: string) => Number(/translate\(([-\d.]+)/.exec(t)![1]);
    expect(x(second)).toBeGreaterThan(x(first) + 200);
    expect(
      view.node.querySelector('.nf-Flow-edge.nf-mod-current')!.getAttribute('d')
    ).not.toBe('');
  });

  it('selects the clicked process and follows selections made elsewhere', async () => {
    const { store, state, selection } = setup([
      proc(1, 'synthetic-signal', 'completed'),
      proc(2, 'fft', 'completed', [10])
    ]);
    const view = await open(store, state, selection);
    const target = node(view, 2).querySelector('rect')!;
    press(target, 'pointerdown', 50, 50);
    press(target, 'pointerup', 51, 50);
    expect(selection.process).toBe(2);
    expect(node(view, 2).classList.contains('nf-selected')).toBe(true);
    expect(node(view, 2).getAttribute('aria-selected')).toBe('true');
    selection.select(1);
    expect(node(view, 1).classList.contains('nf-selected')).toBe(true);
    expect(node(view, 2).classList.contains('nf-selected')).toBe(false);
    await frame();
    expect(
      view.node
        .querySelector('.nf-Flow-edge.nf-mod-selected')!
        .getAttribute('d')
    ).not.toBe('');
  });

  it('keeps a dragged node where it was dropped, across reopening, until re-layout', async () => {
    const { store, state, selection } = setup([
      proc(1, 'synthetic-signal', 'completed'),
      proc(2, 'fft', 'completed', [10])
    ]);
    const view = await open(store, state, selection);
    const element = node(view, 2);
    const before = element.getAttribute('transform');
    press(element.querySelector('rect')!, 'pointerdown', 100, 100);
    const graph = view.node.querySelector('svg[data-testid="nf-flow"]')!;
    press(graph, 'pointermove', 130, 160);
    press(graph, 'pointerup', 130, 160);
    expect(selection.process).toBeNull();
    const dragged = element.getAttribute('transform');
    expect(dragged).not.toBe(before);
    await settle();
    expect(state.values.get(POSITIONS_KEY + 1)).toHaveProperty('p2');

    view.dispose();
    const reopened = await open(store, state, selection);
    expect(node(reopened, 2).getAttribute('transform')).toBe(dragged);

    (await rendered(reopened, 'nf-flow-relayout')).click();
    expect(node(reopened, 2).getAttribute('transform')).toBe(before);
    await settle();
    expect(state.values.has(POSITIONS_KEY + 1)).toBe(false);
  });

  it('lets the keyboard walk the graph and select with Enter', async () => {
    const { store, state, selection } = setup([
      proc(1, 'synthetic-signal', 'completed'),
      proc(2, 'fft', 'completed', [10]),
      proc(3, 'fft', 'completed', [10])
    ]);
    const view = await open(store, state, selection);
    const tabbable = view.node.querySelectorAll(
      '[data-testid="nf-flow-node"][tabindex="0"]'
    );
    expect(
      [...tabbable].map(g => (g as SVGGElement).dataset.processId)
    ).toEqual(['1']);
    node(view, 1).focus();
    node(view, 1).dispatchEvent(
      new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true })
    );
    const focused = document.activeElement as SVGGElement;
    expect(['2', '3']).toContain(focused.dataset.processId);
    expect(focused.getAttribute('tabindex')).toBe('0');
    focused.dispatchEvent(
      new KeyboardEvent('keydown', { key: 'Enter', bubbles: true })
    );
    expect(selection.process).toBe(Number(focused.dataset.processId));
  });
});
