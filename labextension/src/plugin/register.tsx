/**
 * "Register as Nagelfluh process type" in the file browser's context menu of a
 * notebook: a dialog asks for the project (the side panel's by default), the
 * type's name (the notebook's own, else its file's stem) and the environment
 * that runs it (bootstrap by default); the server reads the notebook from the
 * Jupyter contents and answers with the type. The pickers offer it at once and
 * a notification says which revision it is. A refusal (a parameters cell that
 * does not parse, a name taken) opens the dialog again with the server's words
 * and the user's choices kept.
 */
import * as React from 'react';
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { Contents } from '@jupyterlab/services';
import { ReactWidget } from '@jupyterlab/ui-components';
import { ApiError, IProject } from '../api';
import { CommandIds } from '../commands';
import { INagelfluhContext } from '../context';
import { nagelfluhIcon } from '../icons';
import {
  defaultTypeName,
  registeredText,
  registrationProblem,
  typeNameProblem
} from '../notebooks';

const DEFAULT_ENVIRONMENT = 'bootstrap';

/** What the dialog asks. */
export interface IRegisterChoice {
  project: number | null;
  name: string;
  environment: string;
}

/** A labelled select of the dialog, `nf-register-<field>` its id and test id. */
function SelectField(props: {
  field: string;
  label: string;
  value: string;
  options: { value: string; label: string }[];
  onChange(value: string): void;
}): JSX.Element {
  const id = `nf-register-${props.field}`;
  return (
    <div className="nf-Field">
      <label htmlFor={id}>{props.label}</label>
      <select
        id={id}
        className="nf-Select"
        data-testid={id}
        value={props.value}
        onChange={event => props.onChange(event.target.value)}
      >
        {props.options.map(option => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** The dialog's body: its fields, and the server's refusal of the last try. */
class RegisterBody
  extends ReactWidget
  implements Dialog.IBodyWidget<IRegisterChoice>
{
  constructor(
    private readonly _path: string,
    private _choice: IRegisterChoice,
    private readonly _projects: readonly IProject[],
    private readonly _environments: readonly string[],
    private readonly _problem: string | null
  ) {
    super();
    this.addClass('nf-RegisterDialog');
  }

  getValue(): IRegisterChoice {
    return { ...this._choice, name: this._choice.name.trim() };
  }

  render(): JSX.Element {
    const choice = this._choice;
    const set = (change: Partial<IRegisterChoice>) => {
      this._choice = { ...choice, ...change };
      this.update();
    };
    const nameProblem = typeNameProblem(choice.name.trim());
    return (
      <div className="nf-RegisterForm" data-testid="nf-register">
        <p className="nf-Hint">
          The cell tagged <code>parameters</code> of <code>{this._path}</code>{' '}
          makes the form; each run executes the notebook as it is now.
        </p>
        {this._problem && (
          <div
            className="nf-Error"
            role="alert"
            data-testid="nf-register-error"
          >
            {this._problem}
          </div>
        )}
        <SelectField
          field="project"
          label="Project"
          value={String(choice.project ?? '')}
          options={
            this._projects.length > 0
              ? this._projects.map(p => ({
                  value: String(p.id),
                  label: p.name
                }))
              : [{ value: '', label: 'no project yet' }]
          }
          onChange={value => set({ project: Number(value) })}
        />
        <div className="nf-Field">
          <label htmlFor="nf-register-name">Type name</label>
          <input
            id="nf-register-name"
            className={`nf-Input${nameProblem ? ' nf-invalid' : ''}`}
            data-testid="nf-register-name"
            value={choice.name}
            aria-invalid={Boolean(nameProblem)}
            aria-describedby="nf-register-name-hint"
            onChange={event => set({ name: event.target.value })}
          />
          <span
            id="nf-register-name-hint"
            className={nameProblem ? 'nf-FieldError' : 'nf-Hint'}
          >
            {nameProblem
              ? `Name: ${nameProblem}`
              : 'Registering again under this name makes a new revision'}
          </span>
        </div>
        <SelectField
          field="environment"
          label="Environment"
          value={choice.environment}
          options={this._environments.map(name => ({
            value: name,
            label: name
          }))}
          onChange={value => set({ environment: value })}
        />
      </div>
    );
  }
}

export function registerNotebookCommand(
  ctx: INagelfluhContext,
  browsers: IFileBrowserFactory | null
): void {
  /** The one notebook selected in the file browser the user last used. */
  const notebook = (): Contents.IModel | null => {
    const items = [...(browsers?.tracker.currentWidget?.selectedItems() ?? [])];
    return items.length === 1 && items[0].type === 'notebook' ? items[0] : null;
  };
  ctx.app.commands.addCommand(CommandIds.registerNotebook, {
    label: 'Register as Nagelfluh process type',
    caption:
      'Make this notebook a process type of a Nagelfluh project: its parameters cell becomes the form, each run executes it',
    icon: nagelfluhIcon,
    isVisible: () => notebook() !== null,
    execute: async args => {
      const path = typeof args.path === 'string' ? args.path : notebook()?.path;
      if (path) {
        await registerNotebook(ctx, path);
      }
    }
  });
}

/** Environments to offer: the server's, or bootstrap alone if it cannot say. */
async function environmentNames(ctx: INagelfluhContext): Promise<string[]> {
  try {
    const names = (await ctx.client.environments()).items.map(e => e.name);
    return names.includes(DEFAULT_ENVIRONMENT)
      ? names
      : [DEFAULT_ENVIRONMENT, ...names];
  } catch {
    return [DEFAULT_ENVIRONMENT];
  }
}

/** The notebook's metadata (for its own type name), or null when it cannot be read. */
async function notebookMetadata(
  ctx: INagelfluhContext,
  path: string
): Promise<unknown> {
  try {
    const model = await ctx.app.serviceManager.contents.get(path, {
      type: 'notebook',
      content: true
    });
    return (model.content as { metadata?: unknown } | null)?.metadata ?? null;
  } catch {
    return null;
  }
}

/** Ask, register, and say how it went; asked again while the server refuses. */
export async function registerNotebook(
  ctx: INagelfluhContext,
  path: string
): Promise<void> {
  const { store, selection, client } = ctx;
  const [environments, metadata] = await Promise.all([
    environmentNames(ctx),
    notebookMetadata(ctx, path)
  ]);
  let choice: IRegisterChoice = {
    project: selection.project ?? store.projects[0]?.id ?? null,
    name: defaultTypeName(path, metadata),
    environment: DEFAULT_ENVIRONMENT
  };
  let problem: string | null = null;
  for (;;) {
    const answer = await showDialog({
      title: 'Register as Nagelfluh process type',
      body: new RegisterBody(
        path,
        choice,
        store.projects,
        environments,
        problem
      ),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Register' })],
      focusNodeSelector: '#nf-register-name'
    });
    if (!answer.button.accept || answer.value === null) {
      return;
    }
    choice = answer.value;
    if (choice.project === null) {
      problem = 'No project yet: create one in the Nagelfluh side panel first.';
      continue;
    }
    try {
      const registered = await client.registerNotebook({
        project: choice.project,
        path,
        ...(choice.name ? { name: choice.name } : {}),
        environment: choice.environment
      });
      store.addType(registered.type);
      const here = registered.type.project === selection.project;
      Notification.success(registeredText(registered), {
        autoClose: 8000,
        actions: here
          ? [
              {
                label: 'New process',
                callback: () =>
                  void ctx.app.commands.execute(CommandIds.newProcess, {
                    type: registered.type.name
                  })
              }
            ]
          : []
      });
      return;
    } catch (error) {
      if (error instanceof ApiError && error.status === 0) {
        Notification.error(registrationProblem(error), { autoClose: false });
        return;
      }
      problem = registrationProblem(error);
    }
  }
}
