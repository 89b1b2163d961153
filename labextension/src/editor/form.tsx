/**
 * The parameters form of a process type: JupyterLab's own rjsf `FormComponent`
 * (so it looks like the settings editor in every theme) with the dataset
 * picker, the server's refusals on their fields, and validation that starts
 * with the user's first change or submit attempt.
 */
import * as React from 'react';
import { FormComponent } from '@jupyterlab/ui-components';
import { JSONObject } from '@lumino/coreutils';
import { RJSFSchema, RegistryWidgetsType } from '@rjsf/utils';
import { IFieldError } from '../api';
import { INagelfluhContext } from '../context';
import { toErrorSchema } from './errors';
import { useSignal } from './hooks';
import { DatasetPicker, IEditorFormContext, datasetOptions } from './picker';
import {
  DATASET_WIDGET,
  editorValidator,
  idOfPointer,
  initialParameters,
  uiSchemaFor
} from './schema';

const WIDGETS: RegistryWidgetsType = { [DATASET_WIDGET]: DatasetPicker };

export function ParametersForm(props: {
  ctx: INagelfluhContext;
  schema: RJSFSchema;
  parameters: Record<string, unknown>;
  /** The server's field errors, paths relative to the parameters. */
  serverErrors: readonly IFieldError[];
  liveValidate: boolean;
  armed: string | null;
  arm(pointer: string | null): void;
  onChange(parameters: Record<string, unknown>): void;
  onSubmit(): void;
}): JSX.Element {
  const { ctx, schema } = props;
  useSignal(ctx.store.changed);
  const uiSchema = React.useMemo(() => uiSchemaFor(schema), [schema]);
  const defaults = React.useMemo(() => initialParameters(schema), [schema]);
  const extraErrors = React.useMemo(
    () => toErrorSchema(props.serverErrors),
    [props.serverErrors]
  );
  const formContext: IEditorFormContext = {
    defaultFormData: defaults,
    datasets: datasetOptions(ctx.store.datasets, id =>
      ctx.store.processById(id)
    ),
    armed: props.armed,
    arm: props.arm
  };
  return (
    <div className="nf-ParametersForm" data-testid="nf-editor-form">
      <FormComponent
        schema={schema}
        uiSchema={uiSchema}
        formData={props.parameters as JSONObject}
        validator={editorValidator}
        widgets={WIDGETS}
        formContext={formContext}
        extraErrors={extraErrors}
        liveValidate={props.liveValidate}
        noHtml5Validate
        showErrorList={false}
        onChange={event =>
          props.onChange((event.formData ?? {}) as Record<string, unknown>)
        }
        onSubmit={() => props.onSubmit()}
      />
    </div>
  );
}

/** Move the keyboard focus to the field of the first error, so it can be fixed at once. */
export function focusField(
  root: HTMLElement | null,
  errors: readonly IFieldError[]
): void {
  for (const error of errors) {
    const element = root?.querySelector<HTMLElement>(
      `[id="${idOfPointer(error.path)}"]`
    );
    if (element) {
      element.focus();
      return;
    }
  }
}
