/**
 * Packages notebooks installed into their kernels (`%pip install`,
 * `!pip install`, `%uv pip install`) that their project's runtime_env.yaml
 * does not declare: a polled list with *Add to runtime_env.yaml* (pinned to
 * the installed version) and *Dismiss*, shown in the runtime_env editor (one
 * project's) and in the Ray sidebar (every project's).
 */
import type { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  errorMessage,
  type ApiError,
  type INotebookInstall,
  type INotebookInstalls,
  type RayDevAPI
} from '../api';
import { type IPolledState, PollingMonitor } from '../polling';
import { PolledSection } from '../section';

export interface INotebookInstallsState extends IPolledState {
  readonly installs: INotebookInstall[];
  /** The id of the install an action is running for. */
  readonly busy: string | null;
  /** The last action's failure. */
  readonly actionError: string | null;
}

/** Adds an install to its project's runtime_env.yaml. */
export type InstallAdder = (item: INotebookInstall) => Promise<void>;

export class NotebookInstallsMonitor extends PollingMonitor<
  INotebookInstalls,
  INotebookInstallsState
> {
  constructor(options: NotebookInstallsMonitor.IOptions) {
    const { api, project } = options;
    super(
      'jupyter-ray-dev:notebook-installs',
      {
        installs: [],
        busy: null,
        actionError: null,
        error: null,
        loading: true,
        updated: null
      },
      { ...options, fetch: () => api.getNotebookInstalls(project) }
    );
    this._api = api;
    this._add =
      options.add ??
      (async item => {
        await api.addRuntimeEnvPackages(item.project, [item.requirement]);
      });
  }

  /** *Add to runtime_env.yaml*: the pinned requirement, then a fresh list. */
  add(item: INotebookInstall): Promise<boolean> {
    return this._act(item, () => this._add(item));
  }

  /** *Dismiss*: not listed again unless the notebook installs another version. */
  dismiss(item: INotebookInstall): Promise<boolean> {
    return this._act(item, () => this._api.dismissNotebookInstalls([item.id]));
  }

  protected succeeded(
    value: INotebookInstalls
  ): Partial<INotebookInstallsState> {
    return { installs: value.installs };
  }

  protected failed(_error: ApiError): Partial<INotebookInstallsState> {
    return {};
  }

  private async _act(
    item: INotebookInstall,
    action: () => Promise<unknown>
  ): Promise<boolean> {
    this.set({ busy: item.id, actionError: null });
    try {
      await action();
      this.set({
        busy: null,
        installs: this.state.installs.filter(i => i.id !== item.id)
      });
      void this.refresh();
      return true;
    } catch (reason) {
      this.set({ busy: null, actionError: errorMessage(reason) });
      return false;
    }
  }

  private _api: RayDevAPI;
  private _add: InstallAdder;
}

export namespace NotebookInstallsMonitor {
  export interface IOptions {
    api: RayDevAPI;
    /** One project's installs; every project's when undefined. */
    project?: string;
    /** How *Add* changes runtime_env.yaml; default: the server's packages route. */
    add?: InstallAdder;
    interval?: number;
    isVisible?: () => boolean;
    auto?: boolean;
  }
}

/** The list; nothing at all when there is nothing to say (`quiet`). */
export function NotebookInstallsList(props: {
  state: INotebookInstallsState;
  trans: TranslationBundle;
  onAdd: (item: INotebookInstall) => void;
  onDismiss: (item: INotebookInstall) => void;
  /** Say so when the list is empty (the sidebar); the editor shows nothing. */
  showEmpty?: boolean;
}): JSX.Element | null {
  const { state, trans } = props;
  if (!state.installs.length && !state.actionError && !state.error) {
    return props.showEmpty && !state.loading ? (
      <p className="jp-RayDev-installsEmpty">
        {trans.__(
          'No package installed from a notebook is missing from its runtime_env.yaml.'
        )}
      </p>
    ) : null;
  }
  return (
    <div className="jp-RayDev-installs" data-testid="ray-notebook-installs">
      {state.error && (
        <div className="jp-RayDev-installsError" role="alert">
          {state.error.message}
        </div>
      )}
      {state.actionError && (
        <div className="jp-RayDev-installsError" role="alert">
          {state.actionError}
        </div>
      )}
      <ul>
        {state.installs.map(item => (
          <li key={item.id} data-package={item.name}>
            <div className="jp-RayDev-installsWhat">
              {trans.__(
                'Installed in notebook %1, not in runtime_env.yaml:',
                item.notebook
              )}{' '}
              <code title={item.command}>{item.requirement}</code>
              {item.declared && (
                <span className="jp-RayDev-installsDeclared">
                  {' '}
                  {trans.__('(runtime_env.yaml has %1)', item.declared)}
                </span>
              )}
            </div>
            <div className="jp-RayDev-installsActions">
              <button
                className="jp-Button jp-mod-styled jp-mod-accept"
                disabled={state.busy !== null}
                title={trans.__(
                  'Add %1 to %2/runtime_env.yaml',
                  item.requirement,
                  item.project || '.'
                )}
                onClick={() => props.onAdd(item)}
              >
                {trans.__('Add to runtime_env.yaml')}
              </button>
              <button
                className="jp-Button jp-mod-styled jp-mod-reject"
                disabled={state.busy !== null}
                title={trans.__('Stop suggesting %1', item.requirement)}
                onClick={() => props.onDismiss(item)}
              >
                {trans.__('Dismiss')}
              </button>
            </div>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The Ray sidebar's section: every project's notebook installs. */
export class NotebookInstallsSection extends PolledSection<
  NotebookInstallsMonitor,
  INotebookInstallsState
> {
  constructor(options: { api: RayDevAPI; translator: ITranslator }) {
    const trans = options.translator.load('jupyter_ray_dev');
    super({
      id: 'jupyter-ray-dev:notebook-installs',
      className: 'jp-RayDev-installsPanel',
      translator: options.translator,
      label: trans.__('Installed from notebooks'),
      caption: trans.__(
        "Packages notebooks installed (%pip install) that their project's runtime_env.yaml does not declare"
      ),
      refreshTooltip: trans.__('Refresh the packages installed from notebooks'),
      refreshTestId: 'ray-installs-refresh',
      monitor: isVisible =>
        new NotebookInstallsMonitor({ api: options.api, isVisible })
    });
  }

  protected renderState(state: INotebookInstallsState): JSX.Element {
    return (
      <NotebookInstallsList
        state={state}
        trans={this.trans}
        showEmpty={true}
        onAdd={item => void this.model.add(item)}
        onDismiss={item => void this.model.dismiss(item)}
      />
    );
  }
}
