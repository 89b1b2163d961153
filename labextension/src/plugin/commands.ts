/**
 * The plugin's commands: open each view, create a process, pop a view out,
 * show the side panel, refresh, and cancel the active version.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { launchIcon, refreshIcon } from '@jupyterlab/ui-components';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { CommandIds } from '../commands';
import { INagelfluhContext, ViewKind } from '../context';
import { nagelfluhIcon } from '../icons';
import { popOutUrl } from '../popout';
import { VIEWS, ViewOpener, viewIcon } from './opener';

/** Add the commands; `panelId` is the side panel's widget id. */
export function registerCommands(
  ctx: INagelfluhContext,
  opener: ViewOpener,
  panelId: string
): void {
  const { app, store } = ctx;
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
      icon: viewIcon(kind),
      execute: () => {
        opener.open(kind, args);
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
    execute: args => {
      // `type`: start the form with that type (one just registered).
      opener.open(
        'editor',
        typeof args.type === 'string'
          ? { mode: 'create', type: args.type }
          : { mode: 'create' }
      );
    }
  });
  commands.addCommand(CommandIds.openView, {
    label: 'Open Nagelfluh View',
    execute: args => {
      opener.open(args.kind as ViewKind, args);
    }
  });
  commands.addCommand(CommandIds.popOut, {
    label: args =>
      `Pop Out ${VIEWS[(args.kind as ViewKind) ?? 'flow']?.label ?? 'View'}`,
    caption:
      'Open this view in its own browser window, kept in sync with the selection',
    icon: launchIcon,
    execute: args => {
      const current = opener.tracker.currentWidget;
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
    execute: () => app.shell.activateById(panelId)
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
    execute: () => cancelActive(ctx)
  });
}

/** Cancel the active version's run, once the user confirms. */
async function cancelActive(ctx: INagelfluhContext): Promise<void> {
  const version = ctx.store.activeVersion;
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
      await ctx.client.cancel(version.process, version.version);
    } catch (error) {
      Notification.error(`Cancel failed: ${(error as Error).message}`);
    }
  }
}
