/**
 * The JupyterLab plugin: side panel, the main-area views (flow, editor, log,
 * plot, map) as ordinary Lab widgets the dock panel can split, tab and restore,
 * pop-out windows, commands, launcher entry, settings, notifications, and
 * "Upload to Nagelfluh" and "Register as Nagelfluh process type" in the file
 * browser's context menu.
 */
import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  ICommandPalette,
  InputDialog,
  Notification
} from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import { NagelfluhClient } from './api';
import { CommandIds } from './commands';
import { INagelfluhContext, Settings, ISettingsValues } from './context';
import { EventStream } from './events';
import { SidePanel } from './panel';
import { registerUploadCommand } from './plugin/browserupload';
import { registerCommands } from './plugin/commands';
import { registerNotebookCommand } from './plugin/register';
import { VIEWS, ViewOpener } from './plugin/opener';
import { popOutKind } from './popout';
import { Selection } from './selection';
import { stateText } from './states';
import { ProjectStore } from './store';
import { Uploads } from './upload';

const PLUGIN_ID = 'nagelfluh-lab:plugin';

/** Commands in the palette, under Nagelfluh. */
const PALETTE = [
  CommandIds.openPanel,
  CommandIds.newProcess,
  CommandIds.openEditor,
  CommandIds.openFlow,
  CommandIds.openLog,
  CommandIds.openPlot,
  CommandIds.openMap,
  CommandIds.cancelActive,
  CommandIds.refresh
];

const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Nagelfluh process execution: side panel, flow graph, editor, logs, plots and maps.',
  autoStart: true,
  optional: [
    ILabShell,
    ILayoutRestorer,
    ICommandPalette,
    ILauncher,
    ISettingRegistry,
    IStateDB,
    IFileBrowserFactory
  ],
  activate: (
    app: JupyterFrontEnd,
    labShell: ILabShell | null,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    launcher: ILauncher | null,
    registry: ISettingRegistry | null,
    state: IStateDB | null,
    browsers: IFileBrowserFactory | null
  ) => {
    const ctx = createContext(app, state);
    const { store, selection } = ctx;
    const poppedOut = popOutKind(window.location.href);
    loadSettings(ctx, registry);

    const opener = new ViewOpener(ctx, poppedOut !== null);
    const panel = new SidePanel(ctx, app.commands);
    registerCommands(ctx, opener, panel.id);
    registerUploadCommand(ctx, browsers);
    registerNotebookCommand(ctx, browsers);
    for (const command of PALETTE) {
      palette?.addItem({ command, category: 'Nagelfluh' });
    }

    if (!poppedOut) {
      launcher?.add({
        command: CommandIds.newProcess,
        category: 'Other',
        rank: 1
      });
      app.shell.add(panel, 'left', { rank: 600 });
      restorer?.add(panel, panel.id);
      notifyWhenFinished(ctx, opener);
      void restorer?.restore(opener.tracker, {
        command: CommandIds.openView,
        args: widget => ({
          kind: widget.content.node.dataset.nfKind ?? 'flow',
          id: widget.id,
          fresh: true
        }),
        name: widget => widget.id
      });
    }

    void app.restored.then(async () => {
      await store.start();
      if (poppedOut) {
        labShell?.collapseLeft();
        labShell?.collapseRight();
        if (labShell) {
          labShell.mode = 'single-document';
        }
        selection.askOthers();
        opener.open(poppedOut, { fresh: true });
        document.title = `Nagelfluh ${VIEWS[poppedOut].label}`;
      }
    });
  }
};

/** The client, event stream, selection, store, uploads and settings every view shares. */
function createContext(
  app: JupyterFrontEnd,
  state: IStateDB | null
): INagelfluhContext {
  const client = new NagelfluhClient();
  const settings = new Settings();
  const events = new EventStream(() => client.eventsUrl());
  const selection = new Selection();
  const store = new ProjectStore(client, events, selection);
  const uploads = new Uploads(store, askUploadName);
  settings.changed.connect((_, values: ISettingsValues) =>
    events.configure(values.reconnectDelay, values.maxReconnectDelay)
  );
  return { app, client, events, selection, store, uploads, settings, state };
}

/** Keep the settings up to date with the user's (schema/plugin.json). */
function loadSettings(
  { settings }: INagelfluhContext,
  registry: ISettingRegistry | null
): void {
  void registry?.load(PLUGIN_ID).then(loaded => {
    const apply = () =>
      settings.update(loaded.composite as unknown as Partial<ISettingsValues>);
    loaded.changed.connect(apply);
    apply();
  });
}

/** A notification when a version's run ends (if the settings want one), offering its log. */
function notifyWhenFinished(
  { store, settings, selection }: INagelfluhContext,
  opener: ViewOpener
): void {
  store.finished.connect((_, { process, version }) => {
    if (!settings.values.notifyOnFinish) {
      return;
    }
    const text = `${process.name} v${version.version} ${stateText(version)}`;
    const actions = [
      {
        label: 'Show log',
        callback: () => {
          selection.select(process.id, version.version);
          opener.open('log');
        }
      }
    ];
    if (version.state === 'completed') {
      Notification.success(text, { autoClose: 5000, actions });
    } else {
      Notification.error(text, { autoClose: 10000, actions });
    }
  });
}

/** Ask for another name for an upload the server refused under its own (taken, or invalid). */
async function askUploadName(
  reason: string,
  suggestion: string
): Promise<string | null> {
  const answer = await InputDialog.getText({
    title: 'Upload under another name',
    label: reason,
    text: suggestion,
    okLabel: 'Upload'
  });
  const name = answer.value?.trim();
  return answer.button.accept && name ? name : null;
}

export default plugin;
