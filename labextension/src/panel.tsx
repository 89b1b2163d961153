/**
 * The left-area side panel: project selector, process tree grouped by type with
 * live state badges and progress, and the account balance. Clicking a process
 * makes it the active one for every open view.
 */
import * as React from 'react';
import { InputDialog, showErrorMessage } from '@jupyterlab/apputils';
import { CommandRegistry } from '@lumino/commands';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Process } from './api';
import { NagelfluhContext } from './context';
import { nagelfluhIcon } from './icons';
import { badgeColor, badgeOf, groupByType, latest } from './states';
import { CommandIds } from './commands';

export class SidePanel extends ReactWidget {
  constructor(
    private readonly ctx: NagelfluhContext,
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

function PanelBody(props: { ctx: NagelfluhContext; commands: CommandRegistry }): JSX.Element {
  const { store, selection } = props.ctx;
  const run = (id: string) => () => void props.commands.execute(id);
  const newProject = async () => {
    const answer = await InputDialog.getText({ title: 'New project', placeholder: 'project name' });
    if (answer.button.accept && answer.value?.trim()) {
      try {
        await store.createProject(answer.value.trim());
      } catch (error) {
        await showErrorMessage('Project not created', (error as Error).message);
      }
    }
  };
  const balance = store.account?.balance;
  return (
    <div className="nf-SidePanel-body">
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
            {store.projects.length === 0 && <option value="">no project yet</option>}
            {store.projects.map(project => (
              <option key={project.id} value={project.id}>
                {project.name}
              </option>
            ))}
          </select>
          <button className="jp-Button nf-Button" title="Create a project" onClick={newProject}>
            + Project
          </button>
        </div>
      </div>
      <div className="nf-SidePanel-actions" role="toolbar" aria-label="Nagelfluh views">
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
      {store.billing && (
        <div className="nf-SidePanel-footer" data-testid="nf-balance">
          Balance: {balance === undefined ? '…' : `${balance.toFixed(2)} credits`}
        </div>
      )}
    </div>
  );
}

function ProcessTree(props: { ctx: NagelfluhContext }): JSX.Element {
  const { store, selection } = props.ctx;
  const groups = groupByType(store.processes);
  if (groups.length === 0) {
    return (
      <div className="nf-SidePanel-empty">
        {store.loading ? 'Loading…' : 'No processes yet: start one with “New process”.'}
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
      const next = rows[Math.max(0, Math.min(rows.length - 1, at + (event.key === 'ArrowDown' ? 1 : -1)))];
      next?.focus();
    }
  };
  return (
    <ul className="nf-ProcessTree" role="tree" aria-label="Processes" onKeyDown={onKey}>
      {groups.map(([type, processes]) => (
        <li key={type} role="treeitem" aria-expanded="true" className="nf-TypeGroup">
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
  process: Process;
  selected: boolean;
  onSelect: () => void;
}): JSX.Element {
  const version = latest(props.process);
  const badge = badgeOf(version);
  const progress = version?.state === 'running' ? version.progress ?? null : null;
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
      <span className="nf-ProcessRow-name" title={`process ${props.process.id}`}>
        {props.process.name}
      </span>
      <span className="nf-ProcessRow-version">v{version?.version ?? '–'}</span>
      <span className="nf-Badge" style={{ background: badgeColor(badge) }} title={version?.message ?? ''}>
        {badge}
      </span>
      {progress !== null && (
        <progress className="nf-Progress" max={1} value={progress} aria-label="progress" />
      )}
    </li>
  );
}
