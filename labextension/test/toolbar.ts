/** Finding JupyterLab toolbar buttons in a view under test. */
import { vi } from 'vitest';
import { Widget } from '@lumino/widgets';

/** A toolbar button: JupyterLab's are React components, rendered asynchronously. */
export function rendered(view: Widget, testid: string): Promise<HTMLElement> {
  return vi.waitFor(() => {
    const button = view.node.querySelector<HTMLElement>(
      `[data-testid="${testid}"]`
    );
    if (!button) {
      throw new Error(`no ${testid} yet`);
    }
    return button;
  });
}

/** Wait until `button` shows `pressed` (React redraws it asynchronously). */
export function pressed(button: Element, value: boolean): Promise<void> {
  return vi.waitFor(() => {
    if (button.getAttribute('aria-pressed') !== String(value)) {
      throw new Error(`aria-pressed is not ${value} yet`);
    }
  });
}
