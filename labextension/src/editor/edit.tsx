/**
 * Edit mode: the versions of the active process (following the selection) with
 * their states, timings, cost and provenance (a cache hit names the version it
 * reused, an exact re-run how its outputs compare); the chosen version's
 * outputs (an executed notebook opens in the Lab), its parameters and
 * resources in the form, run as a new version; cancel, restore,
 * re-run exactly, and a side-by-side compare of two versions.
 */
import * as React from 'react';
import { RJSFSchema } from '@rjsf/utils';
import { IComparison, IProcess, IVersion, IVersionRef } from '../api';
import { INagelfluhContext } from '../context';
import { badgeColor, badgeOf, badgeText, latest } from '../states';
import { ICompareRow, compareRows, defaultPair, pathLabel } from './compare';
import { readableError } from './errors';
import { formatCredits, formatTime, runTime } from './format';
import { useSignal } from './hooks';
import { cacheChoice, cacheField, rerunBlocked } from './provenance';
import { VersionOutputs } from './outputs';
import { draftOf } from './resources';
import { MessageArea, RunFormFields, onCtrlEnter, useRunForm } from './runform';
import { ProvenanceDetails, RowButton, VersionOrigin } from './versiondetails';

const CANCELLABLE = new Set(['queued', 'running']);

export function EditPanel(props: { ctx: INagelfluhContext }): JSX.Element {
  const { ctx } = props;
  useSignal(ctx.store.changed);
  const [processId, setProcessId] = React.useState<number | null>(
    ctx.selection.process
  );
  const [versionNumber, setVersionNumber] = React.useState<number | null>(
    ctx.selection.version
  );
  const form = useRunForm(ctx, null, state => {
    setProcessId(state.process);
    setVersionNumber(state.version);
  });
  const { message, busy, setMessage, setBusy } = form;

  const process = ctx.store.processById(processId);
  const version =
    process?.versions.find(v => v.version === versionNumber) ??
    (process ? latest(process) : undefined);
  const processType = ctx.store.types.find(type => type.name === process?.type);
  const brokenType = ctx.store.brokenTypes.find(
    type => type.name === process?.type
  );
  const schema = processType?.schema as RJSFSchema | undefined;
  const cache = cacheChoice(processType);

  // A process selected before the store holds it (made elsewhere, another window).
  React.useEffect(() => {
    if (processId !== null && !process && !ctx.store.loading) {
      ctx.client.process(processId).then(
        found => ctx.store.upsert(found),
        error => setMessage({ kind: 'error', text: readableError(error) })
      );
    }
  }, [processId, Boolean(process)]);

  // Load the chosen version into the form while rendering, not in an effect: the
  // form never checks one process's draft against another type's schema, and
  // errors and messages about the process left behind go with it. Pin "latest"
  // so a newer run does not replace edits.
  const loaded = version ? `${version.process}:${version.version}` : '';
  const [inForm, setInForm] = React.useState('');
  if (version && loaded !== inForm) {
    setInForm(loaded);
    if (versionNumber === null) {
      setVersionNumber(version.version);
    }
    form.reset(structuredClone(version.parameters), draftOf(version.resources));
    if (!inForm.startsWith(`${version.process}:`)) {
      setMessage(null);
    }
  }

  const refresh = async (id: number): Promise<IProcess | null> => {
    try {
      const fresh = await ctx.client.process(id);
      ctx.store.upsert(fresh);
      return fresh;
    } catch (error) {
      setMessage({ kind: 'error', text: readableError(error) });
      return null;
    }
  };

  /** Run an action on the server, then show its outcome and the process as it is now. */
  const act = async (id: number, action: () => Promise<string>) => {
    setBusy(true);
    try {
      const text = await action();
      setMessage({ kind: 'info', text });
    } catch (error) {
      setMessage({ kind: 'error', text: readableError(error) });
    }
    await refresh(id);
    setBusy(false);
  };

  const run = async () => {
    if (!process || busy) {
      return;
    }
    form.setTouched(true);
    const resources = form.validate(schema, 'a new version');
    if (!resources) {
      return;
    }
    const body = {
      parameters: form.parameters,
      resources,
      ...cacheField(form.useCache, cache)
    };
    setBusy(true);
    try {
      const created = await ctx.client.newVersion(process.id, body);
      setMessage({
        kind: 'info',
        text: `Version ${created.version} submitted.`
      });
      await refresh(process.id);
      ctx.selection.select(process.id, created.version);
    } catch (error) {
      form.refused(error, schema);
    }
    setBusy(false);
  };

  const cancel = (v: IVersion) =>
    act(v.process, async () => {
      await ctx.client.cancel(v.process, v.version);
      return `Cancel requested for version ${v.version}.`;
    });

  const restore = (v: IVersion) =>
    act(v.process, async () => {
      const created = await ctx.client.restore(v.process, v.version);
      ctx.selection.select(v.process, created.version);
      return `Version ${created.version} runs the parameters of version ${v.version} again.`;
    });

  const rerun = (v: IVersion) =>
    act(v.process, async () => {
      const created = await ctx.client.rerun(v.process, v.version);
      ctx.selection.select(v.process, created.version);
      return `Version ${created.version} re-runs version ${v.version} exactly; its outputs are compared with version ${v.version}'s when it ends.`;
    });

  const choose = (v: IVersion) => ctx.selection.select(v.process, v.version);
  const show = (ref: IVersionRef) =>
    ctx.selection.select(ref.process, ref.version);

  if (processId === null) {
    return (
      <div className="nf-EditorPanel">
        <p className="nf-Empty">
          Select a process in the Nagelfluh side panel or the flow view to see
          and edit its versions.
        </p>
        <MessageArea message={message} />
      </div>
    );
  }
  if (!process) {
    return (
      <div className="nf-EditorPanel">
        <p className="nf-Empty">Loading process {processId}…</p>
        <MessageArea message={message} />
      </div>
    );
  }

  return (
    <div
      className="nf-EditorPanel"
      ref={form.root}
      onKeyDown={onCtrlEnter(() => void run())}
    >
      <h2 className="nf-Editor-title">
        {process.name}{' '}
        <span className="nf-Muted">
          · {processType?.title ?? process.type} · process {process.id}
        </span>
      </h2>
      <VersionsTable
        key={process.id}
        process={process}
        schema={schema}
        chosen={version?.version ?? null}
        busy={busy}
        onChoose={choose}
        onShow={show}
        onCancel={v => void cancel(v)}
        onRestore={v => void restore(v)}
        onRerun={v => void rerun(v)}
      />
      {version && (
        <VersionOutputs
          ctx={ctx}
          process={process}
          version={version}
          onMessage={setMessage}
        />
      )}
      {version && (
        <section
          className="nf-EditorSection"
          aria-label={`Parameters of version ${version.version}`}
        >
          <h3>
            Parameters of version {version.version}
            <span className="nf-Muted">
              {' '}
              · change them and run a new version
            </span>
          </h3>
          <RunFormFields
            key={loaded}
            ctx={ctx}
            form={form}
            schema={schema}
            fallback={
              <p className="nf-Empty">
                The process type {process.type}{' '}
                {brokenType
                  ? `failed to load (${brokenType.error}): its parameters cannot be edited until it is fixed.`
                  : 'is not offered now (the project retired it, or no environment has it): its parameters cannot be edited. A retired type comes back when its notebook is registered again.'}
              </p>
            }
            idPrefix="nf-editor-edit"
            cache={cache}
            button={{
              testid: 'nf-version-run',
              label: busy ? 'Working…' : 'Run new version',
              title:
                'Run these parameters and resources as a new version (Ctrl+Enter)',
              disabled: busy || !schema
            }}
            onSubmit={() => void run()}
          />
        </section>
      )}
      <ComparePanel
        ctx={ctx}
        process={process}
        onError={text => setMessage({ kind: 'error', text })}
      />
    </div>
  );
}

/** What a version row does on the user's behalf. */
interface IRowActions {
  onChoose(v: IVersion): void;
  /** Select a version a badge names (a cache hit's source, a re-run's original). */
  onShow(ref: IVersionRef): void;
  onCancel(v: IVersion): void;
  onRestore(v: IVersion): void;
  onRerun(v: IVersion): void;
}

function VersionsTable(
  props: IRowActions & {
    process: IProcess;
    schema: RJSFSchema | undefined;
    chosen: number | null;
    busy: boolean;
  }
): JSX.Element {
  const { process, chosen, ...shared } = props;
  const versions = [...process.versions].reverse();
  return (
    <table className="nf-Versions" aria-label="Versions">
      <thead>
        <tr>
          <th scope="col">Version</th>
          <th scope="col">State</th>
          <th scope="col">Created</th>
          <th scope="col">Run time</th>
          <th scope="col">Cost (est. / actual)</th>
          <th scope="col">
            <span className="nf-VisuallyHidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {versions.map(v => (
          <VersionRow
            key={v.version}
            {...shared}
            version={v}
            chosen={v.version === chosen}
          />
        ))}
      </tbody>
    </table>
  );
}

/** A version's row, and under it, while open, its provenance. */
function VersionRow(
  props: IRowActions & {
    version: IVersion;
    schema: RJSFSchema | undefined;
    chosen: boolean;
    busy: boolean;
  }
): JSX.Element {
  const { version: v, chosen } = props;
  const [open, setOpen] = React.useState(false);
  const badge = badgeOf(v);
  const blocked = rerunBlocked(v);
  return (
    <>
      <tr
        className={`nf-VersionRow${chosen ? ' nf-selected' : ''}`}
        data-testid="nf-version-row"
        data-version={v.version}
        data-state={v.state}
        data-badge={badge}
        tabIndex={0}
        aria-selected={chosen}
        title={`Show the parameters of version ${v.version}`}
        onClick={() => props.onChoose(v)}
        onKeyDown={event => {
          if (
            (event.key === 'Enter' || event.key === ' ') &&
            event.target === event.currentTarget
          ) {
            event.preventDefault();
            props.onChoose(v);
          }
        }}
      >
        <td>v{v.version}</td>
        <td>
          <span className="nf-Badge" style={{ background: badgeColor(badge) }}>
            {badgeText(badge)}
          </span>
          {v.state === 'running' && v.progress !== null && (
            <span className="nf-Muted"> {Math.round(v.progress * 100)}%</span>
          )}
          {v.message && (
            <div className="nf-Muted nf-VersionMessage">{v.message}</div>
          )}
          <VersionOrigin version={v} onSelect={props.onShow} />
        </td>
        <td>{formatTime(v.created)}</td>
        <td>{runTime(v.started, v.finished)}</td>
        <td>
          {formatCredits(v.cost.estimated)} / {formatCredits(v.cost.actual)}
        </td>
        <td className="nf-VersionActions">
          {CANCELLABLE.has(v.state) && (
            <RowButton
              testid="nf-version-cancel"
              version={v.version}
              disabled={props.busy}
              label={`Cancel version ${v.version}`}
              onClick={() => props.onCancel(v)}
            >
              Cancel
            </RowButton>
          )}
          <RowButton
            testid="nf-version-restore"
            version={v.version}
            disabled={props.busy}
            label={`Restore version ${v.version}: run its parameters as a new version`}
            title="Run this version's parameters again as a new version"
            onClick={() => props.onRestore(v)}
          >
            Restore
          </RowButton>
          <RowButton
            testid="nf-version-rerun"
            version={v.version}
            disabled={props.busy || blocked !== null}
            label={`Re-run version ${v.version} exactly and compare its outputs`}
            title={
              blocked === null
                ? "Run this version again from its provenance, without the cache, and compare the outputs' digests"
                : `Version ${v.version} cannot be re-run: ${blocked}`
            }
            onClick={() => props.onRerun(v)}
          >
            Re-run exactly
          </RowButton>
          <RowButton
            testid="nf-version-details"
            version={v.version}
            expanded={open}
            label={`${open ? 'Hide' : 'Show'} the provenance of version ${v.version}`}
            title="What exactly produced this version"
            onClick={() => setOpen(!open)}
          >
            {open ? 'Hide details' : 'Details'}
          </RowButton>
        </td>
      </tr>
      {open && (
        <tr className="nf-ProvenanceRow">
          <td colSpan={6}>
            <ProvenanceDetails version={v} schema={props.schema} />
          </td>
        </tr>
      )}
    </>
  );
}

function ComparePanel(props: {
  ctx: INagelfluhContext;
  process: IProcess;
  onError(text: string): void;
}): JSX.Element {
  const { ctx, process } = props;
  const numbers = process.versions.map(v => v.version);
  // Until the user picks, the pair follows the versions as they are added; a pick
  // holds for its process only.
  const [picked, setPicked] = React.useState<{
    process: number;
    v1: number;
    v2: number;
  } | null>(null);
  const [v1, v2] =
    picked?.process === process.id
      ? [picked.v1, picked.v2]
      : defaultPair(numbers);
  const [compared, setCompared] = React.useState<{
    comparison: IComparison;
    rows: ICompareRow[];
  } | null>(null);
  const [busy, setBusy] = React.useState(false);
  const shownPair = (c: IComparison) =>
    c.process === process.id && c.v1 === v1 && c.v2 === v2;
  const result = compared && shownPair(compared.comparison) ? compared : null;

  const compare = async () => {
    setBusy(true);
    try {
      const comparison = await ctx.client.compare(process.id, v1, v2);
      const fresh = ctx.store.processById(process.id) ?? process;
      const a = fresh.versions.find(v => v.version === comparison.v1);
      const b = fresh.versions.find(v => v.version === comparison.v2);
      if (!a || !b) {
        throw new Error('the versions to compare are no longer known');
      }
      setCompared({ comparison, rows: compareRows(a, b, comparison) });
    } catch (error) {
      props.onError(readableError(error));
    }
    setBusy(false);
  };

  const select = (
    id: string,
    label: string,
    value: number,
    onChange: (value: number) => void
  ) => (
    <>
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        className="nf-Select"
        data-testid={id}
        value={value}
        onChange={event => onChange(Number(event.target.value))}
      >
        {numbers.map(n => (
          <option key={n} value={n}>
            v{n}
          </option>
        ))}
      </select>
    </>
  );

  const changed = result?.rows.filter(row => row.op !== null).length ?? 0;
  return (
    <section
      className="nf-EditorSection nf-Compare"
      aria-label="Compare versions"
    >
      <h3>Compare versions</h3>
      <div className="nf-Compare-controls">
        {select('nf-compare-v1', 'From', v1, n =>
          setPicked({ process: process.id, v1: n, v2 })
        )}
        {select('nf-compare-v2', 'to', v2, n =>
          setPicked({ process: process.id, v1, v2: n })
        )}
        <button
          type="button"
          className="jp-Button nf-Button"
          data-testid="nf-compare"
          disabled={busy || numbers.length === 0}
          onClick={() => void compare()}
        >
          Compare
        </button>
        {result && (
          <span className="nf-Muted" role="status">
            {result.comparison.equal
              ? 'The two versions have the same parameters and resources.'
              : `${changed} field${changed === 1 ? '' : 's'} differ.`}
          </span>
        )}
      </div>
      {result && (
        <CompareTable comparison={result.comparison} rows={result.rows} />
      )}
    </section>
  );
}

function CompareTable(props: {
  comparison: IComparison;
  rows: ICompareRow[];
}): JSX.Element {
  const { comparison, rows } = props;
  const sections: [string, ICompareRow[]][] = [
    ['Parameters', rows.filter(row => row.section === 'parameters')],
    ['Resources', rows.filter(row => row.section === 'resources')]
  ];
  return (
    <table className="nf-CompareTable" data-testid="nf-compare-table">
      <thead>
        <tr>
          <th scope="col">Field</th>
          <th scope="col">v{comparison.v1}</th>
          <th scope="col">v{comparison.v2}</th>
        </tr>
      </thead>
      {sections.map(([title, list]) => (
        <tbody key={title}>
          <tr className="nf-CompareTable-section">
            <th colSpan={3} scope="rowgroup">
              {title}
            </th>
          </tr>
          {list.length === 0 && (
            <tr>
              <td colSpan={3} className="nf-Muted">
                none
              </td>
            </tr>
          )}
          {list.map(row => (
            <tr
              key={`${row.section}${row.path}`}
              className={row.op ? 'nf-changed' : undefined}
              data-path={row.path}
              data-section={row.section}
              data-op={row.op ?? undefined}
            >
              <th scope="row">
                {pathLabel(row.path)}
                {row.op && (
                  <span className="nf-VisuallyHidden"> ({row.op})</span>
                )}
              </th>
              <td className={row.left === undefined ? 'nf-Muted' : undefined}>
                {row.left ?? '(absent)'}
              </td>
              <td className={row.right === undefined ? 'nf-Muted' : undefined}>
                {row.right ?? '(absent)'}
              </td>
            </tr>
          ))}
        </tbody>
      ))}
    </table>
  );
}
