/**
 * The left-area side panel: project selector, process tree grouped by type with
 * live state badges and progress, the project's uploads, and the account
 * balance. Clicking a process makes it the active one for every open view.
 * Files picked with "Upload" or dropped anywhere on the panel become datasets
 * of the active project; so does a Zarr store's folder, picked with "Folder" or
 * dropped (zipped in the browser on the way).
 */
import * as React from 'react';
import { InputDialog, showErrorMessage } from '@jupyterlab/apputils';
import { CommandRegistry } from '@lumino/commands';
import { ReactWidget, closeIcon } from '@jupyterlab/ui-components';
import { IProcess } from './api';
import { INagelfluhContext } from './context';
import { nagelfluhIcon } from './icons';
import { badgeColor, badgeOf, badgeText, groupByType, latest } from './states';
import { CommandIds } from './commands';
import { DownloadLink } from './download';
import { droppedItems, pickedFolders } from './stores';
import { ITransfer, carriesFiles, formatBytes } from './upload';

/** Uploads listed by name; more are counted (the dataset picker offers them all). */
const SHOWN_UPLOADS = 50;

export class SidePanel extends ReactWidget {
  constructor(
    private readonly ctx: INagelfluhContext,
    private readonly commands: CommandRegistry
  ) {
    super();
    this.id = 'nagelfluh-side-panel';
    this.addClass('nf-SidePanel');
    this.title.icon = nagelfluhIcon;
    this.title.caption = 'Nagelfluh processes';
    // update() requests are conflated into one render per animation frame, so a
    // burst of state events redraws a tree of thousands of processes once.
    ctx.store.changed.connect(() => this.update(), this);
    ctx.uploads.changed.connect(() => this.update(), this);
  }

  render(): JSX.Element {
    return <PanelBody ctx={this.ctx} commands={this.commands} />;
  }
}

/** The toolbar's view buttons in the order shown; only "New process", the panel's main action, stands out. */
const VIEW_BUTTONS: { label: string; command: string; primary?: boolean }[] = [
  { label: 'New process', command: CommandIds.newProcess, primary: true },
  { label: 'Flow', command: CommandIds.openFlow },
  { label: 'Versions', command: CommandIds.openEditor },
  { label: 'Log', command: CommandIds.openLog },
  { label: 'Plot', command: CommandIds.openPlot },
  { label: 'Map', command: CommandIds.openMap }
];

function PanelBody(props: {
  ctx: INagelfluhContext;
  commands: CommandRegistry;
}): JSX.Element {
  const { store, selection } = props.ctx;
  const run = (id: string) => () => void props.commands.execute(id);
  const newProject = async () => {
    const answer = await InputDialog.getText({
      title: 'New project',
      placeholder: 'project name'
    });
    if (answer.button.accept && answer.value?.trim()) {
      try {
        await store.createProject(answer.value.trim());
      } catch (error) {
        await showErrorMessage('Project not created', (error as Error).message);
      }
    }
  };
  const balance = store.account?.balance;
  const [dragging, setDragging] = React.useState(false);
  const project = store.projects.find(p => p.id === selection.project);
  const onDragOver = (event: React.DragEvent) => {
    if (carriesFiles(event.dataTransfer) && project) {
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      setDragging(true);
    }
  };
  const onDragLeave = (event: React.DragEvent) => {
    if (!event.currentTarget.contains(event.relatedTarget as Node | null)) {
      setDragging(false);
    }
  };
  const onDrop = (event: React.DragEvent) => {
    if (carriesFiles(event.dataTransfer) && project) {
      event.preventDefault();
      setDragging(false);
      void props.ctx.uploads.uploadAll(droppedItems(event.dataTransfer));
    }
  };
  if (store.unavailable) {
    // Not an empty project: no project list, no tree, just why and a way to try again.
    return (
      <div className="nf-SidePanel-body">
        <div className="nf-Error" role="alert" data-testid="nf-unavailable">
          {store.error}
        </div>
        <div className="nf-SidePanel-actions">
          <button
            className="jp-Button nf-Button"
            onClick={() => void store.start()}
          >
            Try again
          </button>
        </div>
      </div>
    );
  }
  return (
    <div
      className={`nf-SidePanel-body${dragging ? ' nf-dropTarget' : ''}`}
      onDragOver={onDragOver}
      onDragLeave={onDragLeave}
      onDrop={onDrop}
    >
      {dragging && project && (
        <div className="nf-DropHint" aria-hidden="true">
          Drop to upload into “{project.name}”
        </div>
      )}
      <div className="nf-SidePanel-header">
        <label className="nf-SidePanel-label" htmlFor="nf-project-select">
          Project
        </label>
        <div className="nf-SidePanel-projectRow">
          <select
            id="nf-project-select"
            className="nf-Select"
            aria-label="Project"
            value={selection.project ?? ''}
            onChange={event => selection.setProject(Number(event.target.value))}
          >
            {store.projects.length === 0 && (
              <option value="">no project yet</option>
            )}
            {store.projects.map(project => (
              <option key={project.id} value={project.id}>
                {project.name}
              </option>
            ))}
          </select>
          <button
            className="jp-Button nf-Button"
            title="Create a project"
            onClick={newProject}
          >
            + Project
          </button>
        </div>
      </div>
      <div
        className="nf-SidePanel-actions"
        role="toolbar"
        aria-label="Nagelfluh views"
      >
        {VIEW_BUTTONS.map(({ label, command, primary }) => (
          <button
            key={command}
            className={`jp-Button nf-Button${primary ? ' nf-primary' : ''}`}
            onClick={run(command)}
          >
            {label}
          </button>
        ))}
      </div>
      {store.error && <div className="nf-Error">{store.error}</div>}
      <ProcessTree ctx={props.ctx} />
      <UploadSection ctx={props.ctx} />
      {store.billing && (
        <div className="nf-SidePanel-footer" data-testid="nf-balance">
          Balance:{' '}
          {balance === undefined ? '…' : `${balance.toFixed(2)} credits`}
        </div>
      )}
    </div>
  );
}

function ProcessTree(props: { ctx: INagelfluhContext }): JSX.Element {
  const { store, selection } = props.ctx;
  const groups = groupByType(store.processes);
  if (groups.length === 0) {
    return (
      <div className="nf-SidePanel-empty">
        {store.loading
          ? 'Loading…'
          : 'No processes yet: start one with “New process”.'}
      </div>
    );
  }
  const onKey = (event: React.KeyboardEvent<HTMLUListElement>) => {
    const rows = Array.from(
      event.currentTarget.querySelectorAll<HTMLElement>('.nf-ProcessRow')
    );
    const at = rows.indexOf(document.activeElement as HTMLElement);
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next =
        rows[
          Math.max(
            0,
            Math.min(rows.length - 1, at + (event.key === 'ArrowDown' ? 1 : -1))
          )
        ];
      next?.focus();
    }
  };
  return (
    <ul
      className="nf-ProcessTree"
      role="tree"
      aria-label="Processes"
      onKeyDown={onKey}
    >
      {groups.map(([type, processes]) => (
        <li
          key={type}
          role="treeitem"
          aria-expanded="true"
          className="nf-TypeGroup"
        >
          <div className="nf-TypeGroup-title">
            {type} <span className="nf-Count">{processes.length}</span>
          </div>
          <ul role="group">
            {processes.map(process => (
              <ProcessRow
                key={process.id}
                process={process}
                selected={selection.process === process.id}
                onSelect={() => selection.select(process.id)}
              />
            ))}
          </ul>
        </li>
      ))}
    </ul>
  );
}

function ProcessRow(props: {
  process: IProcess;
  selected: boolean;
  onSelect: () => void;
}): JSX.Element {
  const version = latest(props.process);
  const badge = badgeOf(version);
  const progress = version?.state === 'running' ? version.progress : null;
  return (
    <li
      role="treeitem"
      tabIndex={0}
      aria-selected={props.selected}
      className={`nf-ProcessRow${props.selected ? ' nf-selected' : ''}`}
      data-process-id={props.process.id}
      data-state={badge}
      onClick={props.onSelect}
      onKeyDown={event => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          props.onSelect();
        }
      }}
    >
      <span
        className="nf-ProcessRow-name"
        title={`process ${props.process.id}`}
      >
        {props.process.name}
      </span>
      <span className="nf-ProcessRow-version">v{version?.version ?? '–'}</span>
      <span
        className="nf-Badge"
        style={{ background: badgeColor(badge) }}
        title={version?.message ?? ''}
      >
        {badgeText(badge)}
      </span>
      {progress !== null && (
        <progress
          className="nf-Progress"
          max={1}
          value={progress}
          aria-label="progress"
        />
      )}
    </li>
  );
}

/** The project's uploads, newest first, under the transfers still running or failed. */
function UploadSection(props: { ctx: INagelfluhContext }): JSX.Element {
  const { client, store, uploads, selection } = props.ctx;
  const input = React.useRef<HTMLInputElement>(null);
  const folderInput = React.useRef<HTMLInputElement | null>(null);
  // React knows no webkitdirectory prop: the attribute makes the picker choose a folder.
  const folderPicker = React.useCallback((node: HTMLInputElement | null) => {
    node?.setAttribute('webkitdirectory', '');
    folderInput.current = node;
  }, []);
  const uploaded = store.datasets
    .filter(d => d.process === null)
    .sort((a, b) => b.id - a.id);
  const transfers = uploads.transfers;
  return (
    <section className="nf-Uploads" aria-label="Uploads">
      <div className="nf-Uploads-title">
        <span>
          Uploads <span className="nf-Count">{uploaded.length}</span>
        </span>
        <button
          className="jp-Button nf-Button"
          title="Upload files as datasets of this project (or drop them on the panel)"
          disabled={selection.project === null}
          onClick={() => input.current?.click()}
        >
          Upload
        </button>
        <button
          className="jp-Button nf-Button"
          title="Upload a Zarr store's folder as one dataset (or drop the folder on the panel)"
          disabled={selection.project === null}
          onClick={() => folderInput.current?.click()}
        >
          Folder
        </button>
        <input
          ref={input}
          type="file"
          multiple
          hidden
          onChange={event => {
            const files = Array.from(event.target.files ?? []);
            event.target.value = ''; // picking the same file again is a change too
            void uploads.uploadFiles(files);
          }}
        />
        <input
          ref={folderPicker}
          type="file"
          hidden
          data-testid="nf-folder-input"
          onChange={event => {
            const files = Array.from(event.target.files ?? []);
            event.target.value = '';
            void uploads.uploadAll(pickedFolders(files));
          }}
        />
      </div>
      {transfers.length > 0 && (
        <ul className="nf-Transfers" aria-label="Uploads under way">
          {transfers.map(transfer => (
            <TransferRow
              key={transfer.id}
              transfer={transfer}
              onClose={() =>
                transfer.error === null
                  ? uploads.cancel(transfer.id)
                  : uploads.dismiss(transfer.id)
              }
            />
          ))}
        </ul>
      )}
      {uploaded.length === 0 && transfers.length === 0 ? (
        <div className="nf-Uploads-empty">
          No uploads yet: press “Upload” or drop files (or a Zarr folder) here.
        </div>
      ) : (
        <ul className="nf-UploadList">
          {uploaded.slice(0, SHOWN_UPLOADS).map(dataset => (
            <li
              key={dataset.id}
              className="nf-UploadRow"
              data-dataset-id={dataset.id}
              title={`dataset ${dataset.id}, ${dataset.mime_type}`}
            >
              <span className="nf-UploadRow-name">{dataset.name}</span>
              <span className="nf-UploadRow-size">
                {formatBytes(dataset.size)}
              </span>
              <DownloadLink
                client={client}
                dataset={dataset}
                className="nf-UploadRow-download"
              />
            </li>
          ))}
          {uploaded.length > SHOWN_UPLOADS && (
            <li className="nf-UploadRow nf-more">
              and {uploaded.length - SHOWN_UPLOADS} more
            </li>
          )}
        </ul>
      )}
    </section>
  );
}

function TransferRow(props: {
  transfer: ITransfer;
  onClose: () => void;
}): JSX.Element {
  const { transfer } = props;
  const failed = transfer.error !== null;
  return (
    <li
      className="nf-Transfer"
      data-testid="nf-transfer"
      data-state={failed ? 'failed' : transfer.phase}
    >
      <span className="nf-Transfer-name">{transfer.name}</span>
      {failed ? (
        <span className="nf-Transfer-error" role="alert">
          {transfer.error}
        </span>
      ) : (
        <>
          <progress
            className="nf-Progress"
            max={Math.max(transfer.total, 1)}
            value={transfer.sent}
            aria-label={`${transfer.phase} ${transfer.name}`}
          />
          <span className="nf-Transfer-size">
            {transfer.phase === 'zipping' ? 'zipping ' : ''}
            {formatBytes(transfer.sent)} of {formatBytes(transfer.total)}
          </span>
        </>
      )}
      <button
        className="jp-Button nf-Button nf-Transfer-close"
        title={failed ? 'Dismiss' : 'Cancel the upload'}
        aria-label={failed ? 'Dismiss' : 'Cancel the upload'}
        onClick={props.onClose}
      >
        <closeIcon.react tag="span" elementSize="small" />
      </button>
    </li>
  );
}
