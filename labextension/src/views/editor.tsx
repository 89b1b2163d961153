/**
 * The process editor view: create a process from its type's form, or follow the
 * active process's versions to edit, run, cancel, restore and compare them.
 * Opened again with other arguments, it switches mode in place (`configure`).
 */
import * as React from 'react';
import { ReactWidget } from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';
import { INagelfluhContext } from '../context';
import { ICreateDraft, CreatePanel, draftFor } from '../editor/create';
import { draftOf } from '../editor/resources';
import { EditPanel } from '../editor/edit';

export type EditorMode = 'create' | 'edit';

function modeOf(args: ReadonlyPartialJSONObject): EditorMode | null {
  return args.mode === 'create' || args.mode === 'edit' ? args.mode : null;
}

export class EditorWidget extends ReactWidget {
  constructor(
    private readonly ctx: INagelfluhContext,
    mode: EditorMode
  ) {
    super();
    this._mode = mode;
    this.addClass('nf-Editor');
    this.title.label = 'Process editor';
    this.title.caption = 'Create Nagelfluh processes and edit their versions';
  }

  get mode(): EditorMode {
    return this._mode;
  }

  set mode(mode: EditorMode) {
    if (mode !== this._mode) {
      this._mode = mode;
      this.update();
    }
  }

  /**
   * Called when the view is opened again: `{mode}` switches between create and
   * edit; `{type}` starts a new form for that process type (one just registered).
   */
  configure(args: ReadonlyPartialJSONObject): void {
    const type = this.ctx.store.types.find(t => t.name === args.type);
    if (type) {
      this._draft.current = draftFor(
        type,
        draftOf(this.ctx.settings.values.defaultResources)
      );
      this._fresh += 1;
      this.update();
    }
    const mode = modeOf(args);
    if (mode) {
      this.mode = mode;
    }
  }

  render(): JSX.Element {
    const mode = this._mode;
    const tab = (value: EditorMode, label: string) => (
      <button
        type="button"
        role="tab"
        id={`nf-editor-tab-${value}`}
        className={`nf-EditorTab${mode === value ? ' nf-active' : ''}`}
        data-testid={`nf-editor-mode-${value}`}
        aria-selected={mode === value}
        aria-controls="nf-editor-tabpanel"
        onClick={() => (this.mode = value)}
      >
        {label}
      </button>
    );
    return (
      <div className="nf-Editor-root" data-testid="nf-editor" data-mode={mode}>
        <div className="nf-EditorTabs" role="tablist" aria-label="Editor mode">
          {tab('create', 'New process')}
          {tab('edit', 'Versions')}
        </div>
        <div
          id="nf-editor-tabpanel"
          role="tabpanel"
          aria-labelledby={`nf-editor-tab-${mode}`}
        >
          {mode === 'create' ? (
            <CreatePanel
              key={this._fresh}
              ctx={this.ctx}
              draft={this._draft}
              onCreated={() => (this.mode = 'edit')}
            />
          ) : (
            <EditPanel ctx={this.ctx} />
          )}
        </div>
      </div>
    );
  }

  private _mode: EditorMode;
  /** Counts the forms started afresh for a type: a new one replaces the panel's state. */
  private _fresh = 0;
  private readonly _draft: { current: ICreateDraft | null } = { current: null };
}

export function create(
  ctx: INagelfluhContext,
  args: ReadonlyPartialJSONObject
): Widget {
  const widget = new EditorWidget(ctx, modeOf(args) ?? 'create');
  widget.configure(args);
  return widget;
}
