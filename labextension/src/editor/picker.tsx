/**
 * The dataset picker: the rjsf widget of every `nagelfluh-dataset` field. A
 * select of the project's datasets, plus "pick from flow": armed, the next
 * process selected anywhere (flow graph, side panel) fills the field with its
 * output dataset.
 */
import * as React from 'react';
import { RJSFSchema, WidgetProps, ariaDescribedByIds } from '@rjsf/utils';
import { ReadonlyJSONObject } from '@lumino/coreutils';
import { IDataset, IProcess } from '../api';
import { datasetRef, pointerOfId } from './schema';

export interface IDatasetOption {
  value: string;
  label: string;
}

/** What the editor hands every widget of its form through rjsf's formContext. */
export interface IEditorFormContext {
  /** The type's defaults: JupyterLab's field template marks values that differ. */
  defaultFormData: Record<string, unknown>;
  datasets: IDatasetOption[];
  /** The JSON pointer of the dataset field waiting for a process pick, if any. */
  armed: string | null;
  arm(pointer: string | null): void;
}

/** Datasets as the picker lists them, newest first, labelled "name — process/version". */
export function datasetOptions(
  datasets: readonly IDataset[],
  processById: (id: number) => IProcess | undefined
): IDatasetOption[] {
  return [...datasets]
    .sort((a, b) => b.id - a.id)
    .map(dataset => {
      let origin = 'upload';
      if (dataset.process !== null) {
        const name =
          processById(dataset.process)?.name ?? `process ${dataset.process}`;
        origin = `${name}/v${dataset.version}`;
      }
      return {
        value: datasetRef(dataset.id),
        label: `${dataset.name} — ${origin}`
      };
    });
}

export type Pick = { dataset: IDataset } | { error: string };

/**
 * The dataset a pick of `process` means: the first output of the chosen
 * version, or of the latest version that has outputs when none is chosen (a
 * version still running has none yet).
 */
export function pickDataset(process: IProcess, version: number | null): Pick {
  if (version !== null) {
    const chosen = process.versions.find(v => v.version === version);
    const first = chosen?.outputs[0];
    return first
      ? { dataset: first }
      : { error: `${process.name} v${version} has no output dataset to use.` };
  }
  for (const candidate of [...process.versions].reverse()) {
    if (candidate.outputs.length > 0) {
      return { dataset: candidate.outputs[0] };
    }
  }
  return {
    error: `${process.name} has no output dataset yet: pick it once a version has completed.`
  };
}

export function DatasetPicker(
  props: WidgetProps<ReadonlyJSONObject, RJSFSchema, IEditorFormContext>
): JSX.Element {
  const {
    id,
    value,
    required,
    disabled,
    readonly,
    registry,
    onChange,
    onBlur,
    onFocus,
    label
  } = props;
  const context = registry.formContext;
  const pointer = pointerOfId(id, registry.rootSchema) ?? id;
  const armed = context.armed === pointer;
  const current = typeof value === 'string' ? value : '';
  const options = context.datasets;
  const known =
    current === '' || options.some(option => option.value === current);
  return (
    <div className="nf-DatasetPicker">
      <select
        id={id}
        name={id}
        className="nf-Select nf-DatasetPicker-select"
        data-testid="nf-dataset-picker"
        data-field={pointer}
        aria-label={label || 'Dataset'}
        aria-describedby={ariaDescribedByIds(id)}
        aria-required={required}
        disabled={disabled || readonly}
        value={current}
        onChange={event =>
          onChange(event.target.value === '' ? undefined : event.target.value)
        }
        onBlur={event => onBlur(id, event.target.value)}
        onFocus={event => onFocus(id, event.target.value)}
      >
        <option value="">
          {options.length > 0
            ? '— choose a dataset —'
            : '— no dataset in this project yet —'}
        </option>
        {!known && (
          <option value={current}>
            {current} (not in this project’s list)
          </option>
        )}
        {options.map(option => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
      <button
        type="button"
        className={`jp-Button nf-Button nf-DatasetPicker-flow${armed ? ' nf-armed' : ''}`}
        data-testid="nf-dataset-pick-flow"
        data-field={pointer}
        aria-pressed={armed}
        title={
          armed
            ? 'Waiting: select a process in the flow view or the side panel (Escape stops)'
            : 'Fill this field with the output of the next process you select in the flow view or the side panel'
        }
        disabled={disabled || readonly}
        onClick={() => context.arm(armed ? null : pointer)}
        onKeyDown={event => {
          if (event.key === 'Escape' && armed) {
            event.stopPropagation();
            context.arm(null);
          }
        }}
      >
        {armed ? 'Select a process…' : 'Pick from flow'}
      </button>
    </div>
  );
}
