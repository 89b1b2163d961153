/**
 * The JupyterLab plugin: side panel, the main-area views (flow, editor, log,
 * plot, map) as ordinary Lab widgets the dock panel can split, tab and restore,
 * pop-out windows, commands, launcher entry, settings, notifications, and
 * "Upload to Nagelfluh" in the file browser's context menu.
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
  MainAreaWidget,
  Notification,
  WidgetTracker,
  showDialog,
  Dialog
} from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { Contents } from '@jupyterlab/services';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { IStateDB } from '@jupyterlab/statedb';
import {
  ToolbarButton,
  launchIcon,
  refreshIcon
} from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';
import { NagelfluhClient } from './api';
import { CommandIds } from './commands';
import {
  INagelfluhContext,
  Settings,
  ISettingsValues,
  ViewKind
} from './context';
import { EventStream } from './events';
import { flowIcon, nagelfluhIcon } from './icons';
import { ProgressNotice } from './notice';
import { SidePanel } from './panel';
import { popOutKind, popOutUrl } from './popout';
import { Selection } from './selection';
import { stateText } from './states';
import { ProjectStore } from './store';
import { contentsFolder } from './stores';
import { Uploads, blobOfContents } from './upload';
import * as editorView from './views/editor';
import * as flowView from './views/flow';
import * as logView from './views/log';
import * as mapView from './views/map';
import * as plotView from './views/plot';

const PLUGIN_ID = 'nagelfluh-lab:plugin';

type ViewFactory = (
  ctx: INagelfluhContext,
  args: ReadonlyPartialJSONObject
) => Widget;

const VIEWS: Record<ViewKind, { label: string; factory: ViewFactory }> = {
  flow: { label: 'Flow', factory: flowView.create },
  editor: { label: 'Process editor', factory: editorView.create },
  log: { label: 'Log', factory: logView.create },
  plot: { label: 'Plot', factory: plotView.create },
  map: { label: 'Map', factory: mapView.create }
};

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
    const client = new NagelfluhClient();
    const settings = new Settings();
    const events = new EventStream(() => client.eventsUrl());
    const selection = new Selection();
    const store = new ProjectStore(client, events, selection);
    const uploads = new Uploads(store, askUploadName);
    const ctx: INagelfluhContext = {
      app,
      client,
      events,
      selection,
      store,
      uploads,
      settings,
      state
    };
    const poppedOut = popOutKind(window.location.href);

    settings.changed.connect((_, values: ISettingsValues) =>
      events.configure(values.reconnectDelay, values.maxReconnectDelay)
    );
    if (registry) {
      void registry.load(PLUGIN_ID).then(loaded => {
        const apply = () =>
          settings.update(
            loaded.composite as unknown as Partial<ISettingsValues>
          );
        loaded.changed.connect(apply);
        apply();
      });
    }

    const tracker = new WidgetTracker<MainAreaWidget>({
      namespace: 'nagelfluh-views'
    });
    let counter = 0;

    const openView = (
      kind: ViewKind,
      args: ReadonlyPartialJSONObject = {}
    ): MainAreaWidget => {
      const existing = tracker.find(
        w => w.content.node.dataset.nfKind === kind && w.isAttached
      );
      if (existing && !args.fresh) {
        const content = existing.content as Widget & {
          configure?(a: ReadonlyPartialJSONObject): void;
        };
        content.configure?.(args);
        app.shell.activateById(existing.id);
        return existing;
      }
      const content = VIEWS[kind].factory(ctx, args);
      content.node.dataset.nfKind = kind;
      const widget = new MainAreaWidget({ content });
      widget.id =
        typeof args.id === 'string'
          ? args.id
          : `nagelfluh-${kind}-${Date.now()}-${counter++}`;
      widget.title.label = content.title.label || VIEWS[kind].label;
      widget.title.icon = kind === 'flow' ? flowIcon : nagelfluhIcon;
      widget.title.closable = true;
      widget.addClass('nf-View');
      if (!poppedOut) {
        widget.toolbar.addItem(
          'pop-out',
          new ToolbarButton({
            icon: launchIcon,
            className: 'nf-PopOut',
            tooltip: 'Pop out into its own window',
            onClick: () =>
              void app.commands.execute(CommandIds.popOut, { kind })
          })
        );
      }
      app.shell.add(widget, 'main');
      void tracker.add(widget);
      app.shell.activateById(widget.id);
      return widget;
    };

    const commands = app.commands;
    const viewCommand = (
      id: string,
      kind: ViewKind,
      label: string,
      args: ReadonlyPartialJSONObject = {}
    ) =>
      commands.addCommand(id, {
        label,
        caption: `Open the Nagelfluh ${VIEWS[kind].label.toLowerCase()} view`,
        icon: kind === 'flow' ? flowIcon : nagelfluhIcon,
        execute: () => {
          openView(kind, args);
        }
      });
    viewCommand(CommandIds.openFlow, 'flow', 'Open Flow View');
    viewCommand(CommandIds.openLog, 'log', 'Open Log View');
    viewCommand(CommandIds.openPlot, 'plot', 'Open Plot View');
    viewCommand(CommandIds.openMap, 'map', 'Open Map View');
    viewCommand(
      CommandIds.openEditor,
      'editor',
      'Edit Active Process (Versions)',
      { mode: 'edit' }
    );
    commands.addCommand(CommandIds.newProcess, {
      label: 'New Nagelfluh Process',
      caption: 'Create a process from a form generated from its type’s schema',
      icon: nagelfluhIcon,
      execute: () => {
        openView('editor', { mode: 'create' });
      }
    });
    commands.addCommand(CommandIds.openView, {
      label: 'Open Nagelfluh View',
      execute: args => {
        openView(args.kind as ViewKind, args);
      }
    });
    commands.addCommand(CommandIds.popOut, {
      label: args =>
        `Pop Out ${VIEWS[(args.kind as ViewKind) ?? 'flow']?.label ?? 'View'}`,
      caption:
        'Open this view in its own browser window, kept in sync with the selection',
      icon: launchIcon,
      execute: args => {
        const current = tracker.currentWidget;
        const kind =
          (args.kind as ViewKind) ??
          (current?.content.node.dataset.nfKind as ViewKind) ??
          'flow';
        const appUrl = URLExt.join(
          PageConfig.getBaseUrl(),
          PageConfig.getOption('appUrl') || 'lab'
        );
        window.open(
          popOutUrl(kind, appUrl),
          `nagelfluh-${kind}`,
          'popup,width=1000,height=720'
        );
      }
    });
    commands.addCommand(CommandIds.openPanel, {
      label: 'Show Nagelfluh Panel',
      icon: nagelfluhIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    commands.addCommand(CommandIds.refresh, {
      label: 'Refresh Nagelfluh Processes',
      icon: refreshIcon,
      execute: () => store.reload()
    });
    commands.addCommand(CommandIds.cancelActive, {
      label: 'Cancel Active Nagelfluh Version',
      isEnabled: () =>
        ['queued', 'running'].includes(store.activeVersion?.state ?? ''),
      execute: async () => {
        const version = store.activeVersion;
        if (!version) {
          return;
        }
        const answer = await showDialog({
          title: 'Cancel run',
          body: `Cancel version ${version.version} of process ${version.process}?`,
          buttons: [
            Dialog.cancelButton({ label: 'Keep running' }),
            Dialog.warnButton({ label: 'Cancel run' })
          ]
        });
        if (answer.button.accept) {
          try {
            await client.cancel(version.process, version.version);
          } catch (error) {
            Notification.error(`Cancel failed: ${(error as Error).message}`);
          }
        }
      }
    });
    /** Files and folders selected in the file browser the user last used. */
    const selectedItems = (): Contents.IModel[] => [
      ...(browsers?.tracker.currentWidget?.selectedItems() ?? [])
    ];
    const uploadFromContents = async (item: Contents.IModel): Promise<void> => {
      const folder = item.type === 'directory';
      const what = folder ? `the Zarr store ${item.name}` : item.name;
      const notice = new ProgressNotice(
        `Uploading ${what} to Nagelfluh…`,
        Notification
      );
      try {
        let dataset;
        if (folder) {
          // A folder goes as a Zarr store: its files read through the contents API, zipped here.
          dataset = await uploads.uploadFolder(
            contentsFolder(app.serviceManager.contents, item.path),
            notice.progress
          );
        } else {
          // A file in base64, even a notebook: the bytes as they are, whatever the file holds.
          const model = await app.serviceManager.contents.get(item.path, {
            type: 'file',
            format: 'base64',
            content: true
          });
          dataset = await uploads.upload(
            item.name,
            blobOfContents(model),
            notice.progress
          );
        }
        if (!dataset) {
          await notice.end(`${item.name} was not uploaded.`, 'info');
          return;
        }
        const project =
          store.projects.find(p => p.id === dataset.project)?.name ??
          dataset.project;
        await notice.end(
          `${item.name} is now dataset ${dataset.id} “${dataset.name}” of project “${project}”.`,
          'success'
        );
      } catch (error) {
        await notice.end(
          `${item.name} was not uploaded: ${(error as Error).message}`,
          'error'
        );
      }
    };
    commands.addCommand(CommandIds.uploadFile, {
      label: 'Upload to Nagelfluh',
      caption:
        'Upload the selected files, or Zarr stores’ folders, as datasets of the active Nagelfluh project',
      icon: nagelfluhIcon,
      isVisible: () => selectedItems().length > 0,
      execute: async () => {
        for (const item of selectedItems()) {
          await uploadFromContents(item);
        }
      }
    });

    if (palette) {
      for (const command of [
        CommandIds.openPanel,
        CommandIds.newProcess,
        CommandIds.openEditor,
        CommandIds.openFlow,
        CommandIds.openLog,
        CommandIds.openPlot,
        CommandIds.openMap,
        CommandIds.cancelActive,
        CommandIds.refresh
      ]) {
        palette.addItem({ command, category: 'Nagelfluh' });
      }
    }
    if (launcher && !poppedOut) {
      launcher.add({
        command: CommandIds.newProcess,
        category: 'Other',
        rank: 1
      });
    }

    const panel = new SidePanel(ctx, commands);
    if (!poppedOut) {
      app.shell.add(panel, 'left', { rank: 600 });
      restorer?.add(panel, panel.id);
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
              openView('log');
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
    if (restorer && !poppedOut) {
      void restorer.restore(tracker, {
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
        openView(poppedOut, { fresh: true });
        document.title = `Nagelfluh ${VIEWS[poppedOut].label}`;
      }
    });
  }
};

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
