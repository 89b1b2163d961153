/**
 * A version's provenance in the Versions view: badges in its row (a cache hit
 * names the version it reused, a re-run how its outputs compare with the
 * original's) and, expanded, the record itself: what type, runner and
 * environment ran which parameters on which inputs, and what came out.
 */
import * as React from 'react';
import { RJSFSchema } from '@rjsf/utils';
import { IProvenance, IVersion, IVersionRef } from '../api';
import {
  parameterRows,
  provenanceFacts,
  refText,
  reproducibilityColor,
  reproducibilityText,
  shortDigest
} from './provenance';

/** A button in a version row; its click does not reach the row, which would choose the version. */
export function RowButton(props: {
  testid: string;
  version: number;
  disabled?: boolean;
  /** The accessible name, when the text does not say which version the button acts on. */
  label?: string;
  /** Its look: JupyterLab's button unless told otherwise. */
  className?: string;
  title?: string;
  /** For a disclosure button: whether what it shows is open. */
  expanded?: boolean;
  onClick(): void;
  children: React.ReactNode;
}): JSX.Element {
  return (
    <button
      type="button"
      className={props.className ?? 'jp-Button nf-Button'}
      data-testid={props.testid}
      data-version={props.version}
      disabled={props.disabled}
      aria-label={props.label}
      aria-expanded={props.expanded}
      title={props.title}
      onClick={event => {
        event.stopPropagation();
        props.onClick();
      }}
    >
      {props.children}
    </button>
  );
}

/** A version reference as a link that selects that version. */
function RefButton(props: {
  testid: string;
  target: IVersionRef;
  children: React.ReactNode;
  onSelect(ref: IVersionRef): void;
}): JSX.Element {
  return (
    <RowButton
      testid={props.testid}
      version={props.target.version}
      className="nf-LinkButton"
      title={`Show ${refText(props.target)}`}
      onClick={() => props.onSelect(props.target)}
    >
      {props.children}
    </RowButton>
  );
}

/** What a row says of where a version's outputs come from: a cache hit, or an exact re-run and its result. */
export function VersionOrigin(props: {
  version: IVersion;
  onSelect(ref: IVersionRef): void;
}): JSX.Element | null {
  const {
    cached_from: cached,
    rerun_of: rerun,
    reproducibility
  } = props.version;
  if (!cached && !rerun) {
    return null;
  }
  return (
    <div className="nf-VersionOrigin">
      {cached && (
        <span className="nf-Badge nf-CacheBadge">
          <RefButton
            testid="nf-cached-from"
            target={cached}
            onSelect={props.onSelect}
          >
            cached from {refText(cached)}
          </RefButton>
        </span>
      )}
      {rerun && (
        <span className="nf-Muted">
          re-run of{' '}
          <RefButton
            testid="nf-rerun-of"
            target={rerun}
            onSelect={props.onSelect}
          >
            v{rerun.version}
          </RefButton>
        </span>
      )}
      {reproducibility && (
        <span
          className="nf-Badge"
          data-testid="nf-reproducibility"
          data-state={reproducibility.state}
          style={{ background: reproducibilityColor(reproducibility) }}
        >
          {reproducibilityText(reproducibility)}
        </span>
      )}
    </div>
  );
}

function DatasetList(props: {
  title: string;
  testid: string;
  items: {
    key: string;
    dataset: number;
    name: string;
    digest: string | null;
  }[];
}): JSX.Element {
  return (
    <div className="nf-ProvenanceList">
      <h4>{props.title}</h4>
      {props.items.length === 0 ? (
        <p className="nf-Muted">none</p>
      ) : (
        <ul data-testid={props.testid}>
          {props.items.map(item => (
            <li key={item.key} data-dataset={item.dataset}>
              <span>{item.name}</span>{' '}
              <span className="nf-Muted">dataset {item.dataset}</span>{' '}
              <code title={item.digest ?? undefined}>
                {shortDigest(item.digest)}
              </code>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The provenance record of a version, or why there is none. */
export function ProvenanceDetails(props: {
  version: IVersion;
  schema: RJSFSchema | undefined;
}): JSX.Element {
  const { version } = props;
  const provenance: IProvenance | null = version.provenance;
  if (!provenance) {
    return (
      <p className="nf-Muted" data-testid="nf-provenance">
        Version {version.version} ran before provenance was recorded.
      </p>
    );
  }
  const parameters = parameterRows(provenance.parameters, props.schema);
  return (
    <div
      className="nf-Provenance"
      data-testid="nf-provenance"
      data-version={version.version}
      aria-label={`Provenance of version ${version.version}`}
    >
      <dl className="nf-ProvenanceFacts">
        {provenanceFacts(provenance).map(fact => (
          <React.Fragment key={fact.label}>
            <dt>{fact.label}</dt>
            <dd data-fact={fact.label}>{fact.value}</dd>
          </React.Fragment>
        ))}
      </dl>
      <div className="nf-ProvenanceList">
        <h4>Parameters</h4>
        <table className="nf-ProvenanceParameters">
          <tbody>
            {parameters.map(row => (
              <tr key={row.path} data-path={row.path}>
                <th scope="row">{row.label}</th>
                <td>
                  {row.value}
                  {row.isDefault && <span className="nf-Muted"> default</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <DatasetList
        title="Inputs"
        testid="nf-provenance-inputs"
        items={provenance.inputs.map(input => ({
          key: `${input.parameter}:${input.dataset}`,
          dataset: input.dataset,
          name: `${input.name} (${input.parameter.replace(/^\/parameters\//, '')})`,
          digest: input.digest
        }))}
      />
      <DatasetList
        title="Outputs"
        testid="nf-provenance-outputs"
        items={provenance.outputs.map(output => ({
          key: String(output.dataset),
          dataset: output.dataset,
          name: output.name,
          digest: output.digest
        }))}
      />
    </div>
  );
}
