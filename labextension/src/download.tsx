/**
 * A dataset's download link, as the panel's uploads and a version's outputs
 * show it: a small icon, the file named as the browser will save it.
 */
import * as React from 'react';
import { downloadIcon } from '@jupyterlab/ui-components';
import { IDataset, NagelfluhClient } from './api';
import { downloadName } from './stores';

export function DownloadLink(props: {
  client: Pick<NagelfluhClient, 'downloadUrl'>;
  dataset: Pick<IDataset, 'id' | 'name' | 'mime_type' | 'key'>;
  className: string;
}): JSX.Element {
  const name = downloadName(props.dataset);
  return (
    <a
      className={props.className}
      href={props.client.downloadUrl(props.dataset.id)}
      download={name}
      title={`Download ${name}`}
      aria-label={`Download ${name}`}
    >
      <downloadIcon.react tag="span" elementSize="small" />
    </a>
  );
}
