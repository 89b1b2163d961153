/**
 * A toolbar button that does something rather than switch something on:
 * JupyterLab's `ToolbarButton` flips its `pressed` state (and aria-pressed)
 * on every click, which would announce Fit or Jump to end as a toggle.
 */
import {
  ReactWidget,
  ToolbarButtonComponent,
  addToolbarButtonClass
} from '@jupyterlab/ui-components';
import * as React from 'react';

export class ActionButton extends ReactWidget {
  constructor(private readonly _props: ToolbarButtonComponent.IProps) {
    super();
    addToolbarButtonClass(this);
  }

  get enabled(): boolean {
    return this._enabled;
  }

  set enabled(value: boolean) {
    if (value !== this._enabled) {
      this._enabled = value;
      this.update();
    }
  }

  render(): React.ReactElement {
    return React.createElement(ToolbarButtonComponent, {
      ...this._props,
      enabled: this._enabled
    });
  }

  private _enabled = true;
}
