/**
 * "Upload to Nagelfluh" in the file browser's context menu: the selected
 * files, or Zarr stores' folders, become datasets of the active project, with
 * a notification telling how it went.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { Contents } from '@jupyterlab/services';
import { CommandIds } from '../commands';
import { INagelfluhContext } from '../context';
import { nagelfluhIcon } from '../icons';
import { ProgressNotice } from '../notice';
import { contentsFolder } from '../stores';
import { blobOfContents } from '../upload';

export function registerUploadCommand(
  ctx: INagelfluhContext,
  browsers: IFileBrowserFactory | null
): void {
  /** Files and folders selected in the file browser the user last used. */
  const selectedItems = (): Contents.IModel[] => [
    ...(browsers?.tracker.currentWidget?.selectedItems() ?? [])
  ];
  ctx.app.commands.addCommand(CommandIds.uploadFile, {
    label: 'Upload to Nagelfluh',
    caption:
      'Upload the selected files, or Zarr stores’ folders, as datasets of the active Nagelfluh project',
    icon: nagelfluhIcon,
    isVisible: () => selectedItems().length > 0,
    execute: async () => {
      for (const item of selectedItems()) {
        await uploadFromContents(ctx, item);
      }
    }
  });
}

async function uploadFromContents(
  { app, uploads, store }: INagelfluhContext,
  item: Contents.IModel
): Promise<void> {
  const folder = item.type === 'directory';
  const what = folder ? `the Zarr store ${item.name}` : item.name;
  const notice = new ProgressNotice(
    `Uploading ${what} to Nagelfluh…`,
    Notification
  );
  try {
    const dataset = folder
      ? // A folder goes as a Zarr store: its files read through the contents API, zipped here.
        await uploads.uploadFolder(
          contentsFolder(app.serviceManager.contents, item.path),
          notice.progress
        )
      : await uploads.upload(
          item.name,
          await readFile(app, item.path),
          notice.progress
        );
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
}

/** A file in base64, even a notebook: the bytes as they are, whatever the file holds. */
async function readFile(app: JupyterFrontEnd, path: string): Promise<Blob> {
  const model = await app.serviceManager.contents.get(path, {
    type: 'file',
    format: 'base64',
    content: true
  });
  return blobOfContents(model);
}
