import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  type ApiError,
  type ISubmittedJob,
  NETWORK_ERROR,
  type RayDevAPI,
  toApiError
} from '../api';
import { EMPTY_FORM, parseRunForm, type IRunForm } from './model';

/** What the dialog knows about the environment the job will get. */
export interface IEnvironmentSummary {
  /** The project folder (working_dir) the server will pick, if known. */
  project: string | null;
  /** Path of the project's runtime_env.yaml, `null` when there is none. */
  runtimeEnvPath: string | null;
  /** Its top-level fields (pip, env_vars, working_dir...). */
  runtimeEnvKeys: string[];
  /** Cluster resources free now, e.g. `CPU 1.5/2 · GPU 0/1`. */
  cluster: string | null;
}

export interface IRunJobFormProps {
  file: string;
  initial: IRunForm;
  error: { field: keyof IRunForm | null; message: string } | null;
  environment: IEnvironmentSummary | null;
  trans: TranslationBundle;
  onChange: (form: IRunForm) => void;
}

/** The form inside the "Run as Ray job" dialog. */
export function RunJobForm(props: IRunJobFormProps): JSX.Element {
  const { trans, error, environment } = props;
  const [form, setForm] = React.useState<IRunForm>(props.initial);
  const set = (field: keyof IRunForm, value: string): void => {
    const next = { ...form, [field]: value };
    setForm(next);
    props.onChange(next);
  };
  const field = (
    name: keyof IRunForm,
    label: string,
    placeholder: string,
    hint?: string
  ): JSX.Element => (
    <label className="jp-RayDev-runField">
      <span className="jp-RayDev-runLabel">{label}</span>
      <input
        className={`jp-mod-styled${error?.field === name ? ' jp-mod-invalid' : ''}`}
        name={name}
        data-testid={`ray-run-${name}`}
        value={form[name]}
        placeholder={placeholder}
        aria-invalid={error?.field === name}
        title={hint}
        onChange={event => set(name, event.currentTarget.value)}
      />
    </label>
  );
  return (
    <div className="jp-RayDev-runForm" data-testid="ray-run-form">
      <div className="jp-RayDev-runFile">
        <code>{props.file}</code>
      </div>
      {error && (
        <div
          className="jp-RayDev-runError"
          role="alert"
          data-testid="ray-run-error"
        >
          {error.message}
        </div>
      )}
      {field(
        'args',
        trans.__('Arguments'),
        trans.__('e.g. --epochs 3 --lr 0.01'),
        trans.__('Passed to the script, split like a shell command line')
      )}
      <fieldset className="jp-RayDev-runResources">
        <legend>{trans.__('Driver resources (optional)')}</legend>
        {field('cpus', trans.__('CPUs'), '0')}
        {field('gpus', trans.__('GPUs'), '0')}
        {field('memory', trans.__('Memory'), trans.__('e.g. 2GiB'))}
        {field(
          'custom',
          trans.__('Custom'),
          trans.__('name=amount, …'),
          trans.__('Custom Ray resources the driver reserves')
        )}
      </fieldset>
      <EnvironmentSummary environment={environment} trans={trans} />
    </div>
  );
}

function EnvironmentSummary(props: {
  environment: IEnvironmentSummary | null;
  trans: TranslationBundle;
}): JSX.Element {
  const { environment, trans } = props;
  return (
    <div className="jp-RayDev-runEnv" data-testid="ray-run-env">
      <div className="jp-RayDev-runLabel">{trans.__('Environment')}</div>
      {environment === null ? (
        <div>{trans.__('Looking for the project’s runtime_env.yaml…')}</div>
      ) : (
        <ul>
          <li>
            {trans.__('Working dir: ')}
            <code>
              {environment.project === null
                ? trans.__('the file’s folder')
                : environment.project || '/'}
            </code>
          </li>
          <li>
            {environment.runtimeEnvPath ? (
              <>
                <code>{environment.runtimeEnvPath}</code>
                {environment.runtimeEnvKeys.length > 0 &&
                  `: ${environment.runtimeEnvKeys.join(', ')}`}
              </>
            ) : (
              trans.__('No runtime_env.yaml: the cluster’s default environment')
            )}
          </li>
          {environment.cluster && (
            <li>
              {trans.__('Cluster free: ')}
              {environment.cluster}
            </li>
          )}
        </ul>
      )}
    </div>
  );
}

/** The dialog body: a React form whose value the dialog reads on accept. */
export class RunJobBody extends ReactWidget {
  constructor(private _props: Omit<IRunJobFormProps, 'onChange'>) {
    super();
    this.addClass('jp-RayDev-runDialog');
    this._form = _props.initial;
  }

  getValue(): IRunForm {
    return this._form;
  }

  /** Fill in the environment once it is known. */
  setEnvironment(environment: IEnvironmentSummary): void {
    this._props = { ...this._props, environment };
    this.update();
  }

  protected render(): JSX.Element {
    return (
      <RunJobForm
        {...this._props}
        initial={this._form}
        onChange={form => {
          this._form = form;
        }}
      />
    );
  }

  private _form: IRunForm;
}

export interface IRunJobOptions {
  api: RayDevAPI;
  file: string;
  trans: TranslationBundle;
  /** Look up what the dialog shows about the environment. */
  environment?: () => Promise<IEnvironmentSummary>;
}

/**
 * Ask for arguments and resources, then submit. Invalid input or a 400 from
 * the server re-opens the dialog with the values kept and the message shown.
 * Resolves with the submitted job, or `null` when cancelled.
 */
export async function runJobDialog(
  options: IRunJobOptions
): Promise<ISubmittedJob | null> {
  const { api, file, trans } = options;
  let form: IRunForm = EMPTY_FORM;
  let error: IRunJobFormProps['error'] = null;
  let environment: IEnvironmentSummary | null = null;
  const environmentPromise = options.environment?.().catch(() => null);
  for (;;) {
    const body = new RunJobBody({
      file,
      initial: form,
      error,
      environment,
      trans
    });
    if (environment === null && environmentPromise) {
      void environmentPromise.then(env => {
        if (env) {
          environment = env;
          if (!body.isDisposed) {
            body.setEnvironment(env);
          }
        }
      });
    }
    const result = await showDialog({
      title: trans.__('Run as Ray job'),
      body,
      focusNodeSelector: 'input[name="args"]',
      buttons: [
        Dialog.cancelButton({ label: trans.__('Cancel') }),
        Dialog.okButton({ label: trans.__('Run') })
      ]
    });
    if (!result.button.accept || result.value === null) {
      return null;
    }
    form = result.value;
    const parsed = parseRunForm(form, trans);
    if (!parsed.ok) {
      error = { field: parsed.field, message: parsed.message };
      continue;
    }
    // Ray takes a few seconds to accept a job (upload, driver start).
    const notice = Notification.emit(
      trans.__('Submitting %1 to Ray…', file),
      'in-progress',
      { autoClose: false }
    );
    try {
      return await api.submitJob({
        file,
        ...(parsed.args ? { args: parsed.args } : {}),
        ...(Object.keys(parsed.resources).length
          ? { resources: parsed.resources }
          : {})
      });
    } catch (reason) {
      const err = toApiError(reason, NETWORK_ERROR, trans);
      error = { field: fieldOf(err), message: err.message };
    } finally {
      Notification.dismiss(notice);
    }
  }
}

/** The form field a server 400 names (`resources.num_cpus` -> `cpus`). */
export function fieldOf(error: ApiError): keyof IRunForm | null {
  const field = String(error.details.field ?? '');
  if (field.startsWith('args')) {
    return 'args';
  }
  if (field.includes('num_cpus')) {
    return 'cpus';
  }
  if (field.includes('num_gpus')) {
    return 'gpus';
  }
  if (field.includes('memory')) {
    return 'memory';
  }
  if (field.includes('custom')) {
    return 'custom';
  }
  return null;
}
