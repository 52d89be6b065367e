/**
 * The "Ray environment" editor of one project: a form generated from the
 * runtime_env schema (JupyterLab's FormComponent, as the settings editor),
 * an env vars table with secrets masked, the pip package list, the
 * working_dir size meter, inline errors and warnings from the server, and
 * the YAML source kept in sync beside it.
 */
import {
  CodeEditor,
  CodeEditorWrapper,
  type IEditorServices
} from '@jupyterlab/codeeditor';
import { MainAreaWidget, ReactWidget } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { FormComponent } from '@jupyterlab/ui-components';
import { MessageLoop } from '@lumino/messaging';
import { PanelLayout, SplitPanel, Widget } from '@lumino/widgets';
import * as React from 'react';

import type { IRuntimeEnvFinding } from '../api';
import { rayIcon } from '../icons';
import { FORM_SCHEMA, FORM_VALIDATOR } from './form';
import {
  NotebookInstallsList,
  NotebookInstallsMonitor,
  type INotebookInstallsState
} from './installs';
import { RuntimeEnvModel } from './model';
import {
  addPackage,
  envVarRows,
  findingsFor,
  formData,
  fromForm,
  generalFindings,
  isSecretName,
  OWN_SECTIONS,
  pipPackages,
  text as findingText,
  toErrorSchema,
  withEnvVars,
  withPipPackages,
  type IEnvVarRow
} from './sync';

export const EDITOR_CLASS = 'jp-RayDev-RuntimeEnvEditor';
const FORM_FIELDS = Object.keys(FORM_SCHEMA.properties as object);

function formatBytes(n: number): string {
  if (n >= 1024 * 1024) {
    return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  }
  if (n >= 1024) {
    return `${(n / 1024).toFixed(1)} KiB`;
  }
  return `${n} B`;
}

function Findings(props: {
  items: IRuntimeEnvFinding[];
  kind: 'error' | 'warning';
  trans: TranslationBundle;
}): JSX.Element | null {
  const { trans } = props;
  if (!props.items.length) {
    return null;
  }
  return (
    <ul className={`jp-RayDev-envFindings jp-mod-${props.kind}`}>
      {props.items.map((f, i) => (
        <li key={i} data-path={f.path}>
          {f.path && <code>{f.path}</code>} {f.message}
          {f.line ? ` ${trans.__('(line %1)', f.line)}` : ''}
          {f.fix && <div className="jp-RayDev-envFix">{f.fix}</div>}
        </li>
      ))}
    </ul>
  );
}

function InlineFindings(props: {
  items: IRuntimeEnvFinding[];
  trans: TranslationBundle;
}): JSX.Element | null {
  if (!props.items.length) {
    return null;
  }
  return (
    <div className="jp-RayDev-envInline" role="alert">
      {props.items.map((f, i) => (
        <div key={i}>{findingText(f, props.trans)}</div>
      ))}
    </div>
  );
}

function SizeMeter(props: {
  model: RuntimeEnvModel;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { size } = props.model;
  const { trans } = props;
  if (!size) {
    return null;
  }
  if (!size.uploaded || size.bytes === null) {
    return (
      <div className="jp-RayDev-envSize" data-testid="ray-env-size">
        {size.message}
      </div>
    );
  }
  const ratio = Math.min(size.bytes / size.limit_bytes, 1);
  return (
    <div
      className={`jp-RayDev-envSize${size.over_limit ? ' jp-mod-over' : ''}`}
      data-testid="ray-env-size"
      title={size.largest
        .map(l => `${l.path}: ${formatBytes(l.bytes)}`)
        .join('\n')}
    >
      <div className="jp-RayDev-envSizeLabel">
        {trans.__(
          'working_dir upload: %1 in %2 files, of %3',
          formatBytes(size.bytes),
          size.files ?? 0,
          formatBytes(size.limit_bytes)
        )}
      </div>
      <div className="jp-RayDev-envSizeBar">
        <div style={{ width: `${(ratio * 100).toFixed(1)}%` }} />
      </div>
    </div>
  );
}

function EnvVars(props: {
  model: RuntimeEnvModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, trans } = props;
  const fromModel = envVarRows(model.value);
  const [rows, setRows] = React.useState<IEnvVarRow[]>(fromModel);
  const [shown, setShown] = React.useState<Record<number, boolean>>({});
  const named = rows.filter(r => r.name.trim());
  if (JSON.stringify(named) !== JSON.stringify(fromModel) && !model.yamlError) {
    // the YAML changed underneath: the table follows
    setRows(fromModel);
  }
  const update = (next: IEnvVarRow[]): void => {
    setRows(next);
    model.setValue(withEnvVars(model.value, next));
  };
  const edit = (i: number, change: Partial<IEnvVarRow>): void =>
    update(rows.map((r, j) => (j === i ? { ...r, ...change } : r)));
  const findings = model.errors.concat(model.warnings);
  return (
    <section className="jp-RayDev-envSection" data-testid="ray-env-vars">
      <h3>{trans.__('Environment variables')}</h3>
      <table className="jp-RayDev-envVars">
        <tbody>
          {rows.map((row, i) => {
            const secret = isSecretName(row.name);
            const own = row.name
              ? findingsFor(findings, ['env_vars', row.name])
              : [];
            return (
              <React.Fragment key={i}>
                <tr>
                  <td>
                    <input
                      className="jp-mod-styled"
                      aria-label={trans.__('Name')}
                      placeholder={trans.__('NAME')}
                      value={row.name}
                      onChange={e => edit(i, { name: e.target.value })}
                    />
                  </td>
                  <td>
                    <input
                      className="jp-mod-styled"
                      aria-label={trans.__('Value of %1', row.name)}
                      type={secret && !shown[i] ? 'password' : 'text'}
                      value={row.value}
                      onChange={e => edit(i, { value: e.target.value })}
                    />
                  </td>
                  <td>
                    {secret && (
                      <button
                        className="jp-Button jp-mod-minimal"
                        title={
                          shown[i]
                            ? trans.__('Hide the value')
                            : trans.__('Show the value')
                        }
                        onClick={() => setShown({ ...shown, [i]: !shown[i] })}
                      >
                        {shown[i] ? trans.__('Hide') : trans.__('Show')}
                      </button>
                    )}
                    <button
                      className="jp-Button jp-mod-minimal"
                      title={trans.__('Remove %1', row.name)}
                      onClick={() => update(rows.filter((_, j) => j !== i))}
                    >
                      ✕
                    </button>
                  </td>
                </tr>
                {own.length > 0 && (
                  <tr>
                    <td colSpan={3}>
                      <InlineFindings items={own} trans={trans} />
                    </td>
                  </tr>
                )}
              </React.Fragment>
            );
          })}
        </tbody>
      </table>
      <button
        className="jp-Button jp-mod-styled jp-mod-reject"
        onClick={() => setRows([...rows, { name: '', value: '' }])}
      >
        {trans.__('Add variable')}
      </button>
    </section>
  );
}

function PipPackages(props: {
  model: RuntimeEnvModel;
  trans: TranslationBundle;
}): JSX.Element {
  const { model, trans } = props;
  const [draft, setDraft] = React.useState('');
  const packages = pipPackages(model.value);
  const findings = model.errors.concat(model.warnings);
  const mapped = model.value.pip && !Array.isArray(model.value.pip);
  if (packages === null) {
    return (
      <section className="jp-RayDev-envSection">
        <h3>{trans.__('pip packages')}</h3>
        <p>
          {trans.__('pip names a requirements file: edit it, or the YAML.')}
        </p>
        <InlineFindings items={findingsFor(findings, ['pip'])} trans={trans} />
      </section>
    );
  }
  const add = (): void => {
    const next = addPackage(packages, draft);
    setDraft('');
    model.setValue(withPipPackages(model.value, next));
  };
  const { install } = model;
  return (
    <section className="jp-RayDev-envSection" data-testid="ray-env-pip">
      <h3>{trans.__('pip packages')}</h3>
      <ul className="jp-RayDev-envPackages">
        {packages.map((pkg, i) => (
          <li key={`${i}-${pkg}`}>
            <code>{pkg}</code>
            <button
              className="jp-Button jp-mod-minimal"
              title={trans.__('Remove %1', pkg)}
              onClick={() =>
                model.setValue(
                  withPipPackages(
                    model.value,
                    packages.filter((_, j) => j !== i)
                  )
                )
              }
            >
              ✕
            </button>
            <InlineFindings
              items={findingsFor(
                findings,
                mapped ? ['pip', 'packages', i] : ['pip', i]
              )}
              trans={trans}
            />
          </li>
        ))}
      </ul>
      <InlineFindings
        items={findingsFor(findings, ['pip']).filter(
          f => !/^pip(\.packages)?\[\d+\]/.test(f.path)
        )}
        trans={trans}
      />
      <div className="jp-RayDev-envAdd">
        <input
          className="jp-mod-styled"
          aria-label={trans.__('Requirement to add')}
          placeholder={trans.__('e.g. requests==2.32.3')}
          value={draft}
          onChange={e => setDraft(e.target.value)}
          onKeyDown={e => {
            if (e.key === 'Enter') {
              add();
            }
          }}
        />
        <button className="jp-Button jp-mod-styled jp-mod-reject" onClick={add}>
          {trans.__('Add')}
        </button>
        <button
          className="jp-Button jp-mod-styled jp-mod-reject"
          disabled={install.running || model.dirty || !packages.length}
          title={
            model.dirty
              ? trans.__('Save first: the saved packages are installed')
              : trans.__(
                  'Install these packages once onto shared storage (c.RayDev.shared_roots): jobs then import them from there instead of building a virtualenv each time'
                )
          }
          onClick={() => void model.installShared()}
        >
          {install.running
            ? trans.__('Installing…')
            : trans.__('Install onto shared storage')}
        </button>
      </div>
      {(install.running || install.result) && (
        <div className="jp-RayDev-envInstall" data-testid="ray-env-install">
          {install.progress && <div>{install.progress}</div>}
          {install.result && (
            <div
              className={install.result.type === 'error' ? 'jp-mod-error' : ''}
            >
              {install.result.message}
            </div>
          )}
          <pre>{install.lines.slice(-50).join('\n')}</pre>
        </div>
      )}
    </section>
  );
}

function EnvForm(props: {
  model: RuntimeEnvModel;
  trans: TranslationBundle;
  installs?: NotebookInstallsMonitor;
  installsState?: INotebookInstallsState;
}): JSX.Element {
  const { model, trans, installs, installsState } = props;
  const extraErrors = toErrorSchema(model.errors, trans) as any;
  const general = generalFindings(model.errors, [
    ...FORM_FIELDS,
    ...OWN_SECTIONS
  ]);
  const title =
    model.path || `${model.project ? model.project + '/' : ''}runtime_env.yaml`;
  return (
    <div className="jp-RayDev-envForm">
      <header className="jp-RayDev-envHeader">
        <strong>{title}</strong>{' '}
        <span className="jp-RayDev-envStatus" data-testid="ray-env-status">
          {model.loading
            ? trans.__('Loading…')
            : model.saving
              ? trans.__('Saving…')
              : model.dirty
                ? trans.__('Unsaved changes')
                : model.exists
                  ? trans.__('Saved')
                  : trans.__('No file yet: the default environment')}
        </span>
        {model.verdict && !model.yamlError && (
          <span
            className={`jp-RayDev-envVerdict ${model.verdict.valid ? 'jp-mod-valid' : 'jp-mod-invalid'}`}
          >
            {model.verdict.valid
              ? trans.__('Valid for Ray')
              : trans.__('Not valid')}
          </span>
        )}
      </header>
      {model.error && (
        <div className="jp-RayDev-envBanner jp-mod-error" role="alert">
          {model.error}
          {model.conflict && (
            <button
              className="jp-Button jp-mod-styled"
              onClick={() => void model.load()}
            >
              {trans.__('Reload (drops your changes)')}
            </button>
          )}
        </div>
      )}
      {installs && installsState && (
        <NotebookInstallsList
          state={{
            ...installsState,
            // added here but not saved yet: the list follows the editor
            installs: installsState.installs.filter(
              i => !(pipPackages(model.value) ?? []).includes(i.requirement)
            )
          }}
          trans={trans}
          onAdd={item => void installs.add(item)}
          onDismiss={item => void installs.dismiss(item)}
        />
      )}
      <Findings items={general} kind="error" trans={trans} />
      <Findings items={model.warnings} kind="warning" trans={trans} />
      <SizeMeter model={model} trans={trans} />
      <EnvVars model={model} trans={trans} />
      <PipPackages model={model} trans={trans} />
      <section className="jp-RayDev-envSection jp-RayDev-envSchemaForm">
        <h3>{trans.__('Other fields')}</h3>
        <FormComponent
          schema={FORM_SCHEMA as any}
          formData={formData(model.value) as any}
          validator={FORM_VALIDATOR as any}
          extraErrors={extraErrors}
          noValidate={true}
          liveValidate={false}
          showErrorList={false}
          compact={true}
          onChange={(e: any) =>
            model.setValue(fromForm(model.value, e.formData ?? {}))
          }
          uiSchema={{
            'ui:submitButtonOptions': { norender: true }
          }}
        />
      </section>
    </div>
  );
}

class FormView extends ReactWidget {
  constructor(
    private _model: RuntimeEnvModel,
    private _trans: TranslationBundle,
    private _installs: NotebookInstallsMonitor
  ) {
    super();
    this.addClass('jp-RayDev-envFormView');
    _model.changed.connect(() => this.update());
    _installs.changed.connect(() => this.update());
  }

  render(): JSX.Element {
    return (
      <EnvForm
        model={this._model}
        trans={this._trans}
        installs={this._installs}
        installsState={this._installs.state}
      />
    );
  }
}

/** The YAML source: CodeMirror when the editor services are there, else a textarea. */
class YamlView extends Widget {
  constructor(model: RuntimeEnvModel, services: IEditorServices | null) {
    super();
    this.addClass('jp-RayDev-envYaml');
    if (services) {
      this._editorModel = new CodeEditor.Model({ mimeType: 'text/x-yaml' });
      const wrapper = new CodeEditorWrapper({
        model: this._editorModel,
        factory: services.factoryService.newDocumentEditor,
        editorOptions: { config: { lineNumbers: true } }
      });
      wrapper.addClass('jp-RayDev-envYamlEditor');
      this._wrapper = wrapper;
      // a child in a layout, not a node appended by hand: it then gets the
      // attach, show and resize messages CodeMirror needs to measure itself
      const layout = new PanelLayout();
      layout.addWidget(wrapper);
      this.layout = layout;
      this._editorModel.sharedModel.changed.connect(() => {
        if (!this._applying) {
          model.setText(this._editorModel!.sharedModel.getSource());
        }
      });
    } else {
      const area = (this._textarea = document.createElement('textarea'));
      area.spellcheck = false;
      area.setAttribute('aria-label', 'runtime_env.yaml');
      area.addEventListener('input', () => model.setText(area.value));
      this.node.appendChild(area);
    }
    model.changed.connect((_, origin) => {
      if (origin !== 'yaml') {
        this._show(model.text);
      }
    });
    this._show(model.text);
  }

  protected onResize(): void {
    if (this._wrapper) {
      MessageLoop.sendMessage(this._wrapper, Widget.ResizeMessage.UnknownSize);
    }
  }

  private _show(text: string): void {
    if (this._editorModel) {
      if (this._editorModel.sharedModel.getSource() !== text) {
        this._applying = true;
        try {
          this._editorModel.sharedModel.setSource(text);
        } finally {
          this._applying = false;
        }
      }
    } else if (this._textarea && this._textarea.value !== text) {
      this._textarea.value = text;
    }
  }

  dispose(): void {
    this._editorModel?.dispose();
    super.dispose(); // the layout disposes the editor
  }

  private _editorModel: CodeEditor.Model | null = null;
  private _wrapper: CodeEditorWrapper | null = null;
  private _textarea: HTMLTextAreaElement | null = null;
  private _applying = false;
}

/** The editor tab: the form and the YAML side by side. */
export class RuntimeEnvEditor extends MainAreaWidget<SplitPanel> {
  constructor(options: RuntimeEnvEditor.IOptions) {
    const trans = options.trans;
    const model = new RuntimeEnvModel({
      api: options.api,
      project: options.project,
      trans
    });
    let editor: RuntimeEnvEditor | null = null;
    // what the project's notebooks installed that the file lacks: *Add* goes
    // through the editor's model (its unsaved changes are kept)
    const installs = new NotebookInstallsMonitor({
      api: options.api,
      project: options.project,
      isVisible: () => editor?.isVisible ?? false,
      add: item => model.addRequirement(item.requirement)
    });
    const content = new SplitPanel({ orientation: 'horizontal', spacing: 4 });
    content.addClass('jp-RayDev-envSplit');
    content.addWidget(new FormView(model, trans, installs));
    content.addWidget(new YamlView(model, options.editorServices));
    super({ content });
    editor = this;
    this.model = model;
    this.installs = installs;
    this.project = options.project;
    this.addClass(EDITOR_CLASS);
    this.id = `jupyter-ray-dev-env-${encodeURIComponent(options.project || '/')}`;
    this.title.icon = rayIcon;
    this.title.closable = true;
    const name = options.project ? options.project.split('/').pop() : '/';
    this.title.caption = trans.__(
      'Ray environment of %1',
      options.project || '/'
    );
    const label = (): string =>
      `${model.dirty ? '● ' : ''}${trans.__('Ray env: %1', name ?? '')}`;
    this.title.label = label();
    model.changed.connect(() => {
      this.title.label = label();
      this.title.className = model.dirty ? 'jp-mod-dirty' : '';
    });
    void model.load();
  }

  readonly model: RuntimeEnvModel;
  /** Packages the project's notebooks installed that runtime_env.yaml lacks. */
  readonly installs: NotebookInstallsMonitor;
  readonly project: string;

  save(): Promise<boolean> {
    return this.model.save();
  }

  dispose(): void {
    this.installs.dispose();
    this.model.dispose();
    super.dispose();
  }
}

export namespace RuntimeEnvEditor {
  export interface IOptions {
    api: import('../api').RayDevAPI;
    project: string;
    trans: TranslationBundle;
    editorServices: IEditorServices | null;
  }
}
