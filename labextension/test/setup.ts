/**
 * What jsdom lacks and the modules under test expect, as JupyterLab's own
 * test shims provide it: DragEvent (@lumino/widgets' drag-and-drop extends it)
 * matchMedia (@jupyterlab/ui-components' web components query it at load)
 * and requestIdleCallback (its ReactWidget waits for one after rendering).
 */
(globalThis as { DragEvent?: unknown }).DragEvent ??= class extends (
  MouseEvent
) {};

window.matchMedia ??= (query: string): MediaQueryList => {
  const list: MediaQueryList = Object.assign(new EventTarget(), {
    matches: false,
    media: query,
    onchange: null,
    addListener: () => undefined,
    removeListener: () => undefined
  });
  return list;
};

globalThis.requestIdleCallback ??= (callback: IdleRequestCallback): number =>
  window.setTimeout(() =>
    callback({ didTimeout: false, timeRemaining: () => 0 })
  );
