/**
 * The outputs of the chosen version in the Versions view, listed as the run
 * registers them: name, kind and size, a download link, and for an executed
 * notebook "Open in Lab", which saves it under nagelfluh-runs/ in the Lab's
 * files and opens it there with its outputs.
 */
import * as React from 'react';
import { IDataset, IProcess, IVersion } from '../api';
import { INagelfluhContext } from '../context';
import { isNotebook, openExecutedNotebook } from '../notebooks';
import { DownloadLink } from '../download';
import { formatBytes } from '../upload';
import { readableError } from './errors';

/** Save an executed notebook output into the Lab's files and open it; the saved path. */
export function openInLab(
  ctx: INagelfluhContext,
  process: IProcess,
  version: IVersion,
  dataset: IDataset
): Promise<string> {
  const { app, client } = ctx;
  return openExecutedNotebook(
    {
      text: id => client.datasetText(id),
      contents: app.serviceManager.contents,
      open: path =>
        app.commands.execute('docmanager:open', { path, factory: 'Notebook' })
    },
    process.name,
    version.version,
    dataset
  );
}

export function VersionOutputs(props: {
  ctx: INagelfluhContext;
  process: IProcess;
  version: IVersion;
  onMessage(message: { kind: 'info' | 'error'; text: string }): void;
}): JSX.Element {
  const { ctx, process, version } = props;
  const [opening, setOpening] = React.useState<number | null>(null);
  const outputs = version.outputs;
  const more = version.output_count - outputs.length;
  const open = async (dataset: IDataset) => {
    setOpening(dataset.id);
    try {
      const path = await openInLab(ctx, process, version, dataset);
      props.onMessage({
        kind: 'info',
        text: `Opened ${dataset.name} (saved as ${path}).`
      });
    } catch (error) {
      props.onMessage({
        kind: 'error',
        text: `${dataset.name} could not be opened: ${readableError(error)}`
      });
    }
    setOpening(null);
  };
  const running = version.state === 'queued' || version.state === 'running';
  return (
    <section
      className="nf-EditorSection nf-Outputs"
      aria-label={`Outputs of version ${version.version}`}
    >
      <h3>
        Outputs of version {version.version}{' '}
        <span className="nf-Count">{version.output_count}</span>
      </h3>
      {outputs.length === 0 ? (
        <p className="nf-Muted" data-testid="nf-outputs-empty">
          {running
            ? 'None yet: they appear when the run ends.'
            : 'This version has no outputs.'}
        </p>
      ) : (
        <ul
          className="nf-OutputList"
          data-testid="nf-version-outputs"
          data-version={version.version}
        >
          {outputs.map(dataset => (
            <li
              key={dataset.id}
              className="nf-OutputRow"
              data-dataset-id={dataset.id}
              data-mime-type={dataset.mime_type}
            >
              <span className="nf-OutputRow-name" title={dataset.key}>
                {dataset.name}
              </span>
              <span className="nf-Muted">
                {isNotebook(dataset) ? 'executed notebook' : dataset.mime_type}{' '}
                · {formatBytes(dataset.size)}
              </span>
              {isNotebook(dataset) && (
                <button
                  type="button"
                  className="jp-Button nf-Button nf-primary"
                  data-testid="nf-open-in-lab"
                  disabled={opening !== null}
                  title="Save this executed notebook under nagelfluh-runs/ and open it in the Lab, with its outputs"
                  onClick={() => void open(dataset)}
                >
                  {opening === dataset.id ? 'Opening…' : 'Open in Lab'}
                </button>
              )}
              <DownloadLink
                client={ctx.client}
                dataset={dataset}
                className="nf-OutputRow-download"
              />
            </li>
          ))}
          {more > 0 && (
            <li className="nf-OutputRow nf-more">and {more} more</li>
          )}
        </ul>
      )}
    </section>
  );
}
