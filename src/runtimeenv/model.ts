/**
 * The state of one project's runtime_env editor: the YAML text (the truth),
 * the environment parsed from it, the saved version's ETag, the server's
 * verdict and the working_dir size. The form and the YAML view both edit it.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { Signal, type ISignal } from '@lumino/signaling';

import {
  ApiError,
  errorMessage,
  type IInstallEvent,
  type IRuntimeEnvFile,
  type IRuntimeEnvFinding,
  type IRuntimeEnvVerdict,
  type IWorkingDirSize,
  type RayDevAPI
} from '../api';
import {
  addPackage,
  applyToYaml,
  parseYaml,
  pipPackages,
  withPipPackages,
  type IYamlError,
  type RuntimeEnv
} from './sync';

export type Origin = 'form' | 'yaml' | 'load';

export interface IInstallState {
  running: boolean;
  lines: string[];
  progress: string | null;
  result: IInstallEvent | null;
}

export class RuntimeEnvModel {
  constructor(options: {
    api: RayDevAPI;
    project: string;
    trans: TranslationBundle;
    validateDelay?: number;
  }) {
    this.api = options.api;
    this.project = options.project;
    this._trans = options.trans;
    this._delay = options.validateDelay ?? 400;
  }

  readonly api: RayDevAPI;
  readonly project: string;

  /** Emitted on every change; `origin` says who changed the text. */
  get changed(): ISignal<this, Origin> {
    return this._changed;
  }

  text = '';
  /** The last environment that parsed (the form keeps showing it while the YAML is broken). */
  value: RuntimeEnv = {};
  yamlError: IYamlError | null = null;
  savedText = '';
  etag: string | null = null;
  exists = false;
  path = '';
  loading = false;
  saving = false;
  /** A load or save failure, for the banner. */
  error: string | null = null;
  /** The save was refused because the file changed elsewhere. */
  conflict = false;
  verdict: IRuntimeEnvVerdict | null = null;
  size: IWorkingDirSize | null = null;
  install: IInstallState = {
    running: false,
    lines: [],
    progress: null,
    result: null
  };

  get dirty(): boolean {
    return this.text !== this.savedText;
  }

  get errors(): IRuntimeEnvFinding[] {
    if (this.yamlError) {
      return [
        {
          path: '',
          message: this._trans.__('YAML: %1', this.yamlError.message),
          line: this.yamlError.line,
          column: this.yamlError.column
        }
      ];
    }
    return this.verdict?.errors ?? [];
  }

  get warnings(): IRuntimeEnvFinding[] {
    return this.yamlError ? [] : (this.verdict?.warnings ?? []);
  }

  async load(): Promise<void> {
    this.loading = true;
    this._emit('load');
    try {
      const file = await this.api.getRuntimeEnv(this.project);
      this._adopt(file);
      this._setText(file.yaml);
      this.loading = false;
      this._emit('load');
      this._scheduleValidate();
      void this.refreshSize();
    } catch (reason) {
      this.loading = false;
      this.error = errorMessage(reason);
      this._emit('load');
    }
  }

  /**
   * Add a requirement (a notebook's install, pinned). A saved file is changed
   * on the server (pip or uv list, comments kept) and read again; with unsaved
   * changes it joins them in the pip list, saved with them.
   */
  async addRequirement(requirement: string): Promise<void> {
    if (!this.dirty) {
      await this.api.addRuntimeEnvPackages(
        this.project,
        [requirement],
        this.etag
      );
      await this.load();
      return;
    }
    const packages = pipPackages(this.value);
    if (packages === null || this.value.uv !== undefined) {
      throw new Error(
        this._trans.__(
          'Save or revert your changes first: %1 goes into a list this editor cannot change while it has unsaved changes.',
          requirement
        )
      );
    }
    this.setValue(
      withPipPackages(this.value, addPackage(packages, requirement))
    );
  }

  /** The YAML view changed the text. */
  setText(text: string): void {
    if (text === this.text) {
      return;
    }
    this._setText(text);
    this._emit('yaml');
    this._scheduleValidate();
  }

  /** The form changed the environment: the YAML follows, comments kept. */
  setValue(value: RuntimeEnv): void {
    const text = applyToYaml(this.yamlError ? '' : this.text, value);
    this.value = value;
    if (text !== this.text) {
      this.text = text;
      this.yamlError = null;
      this._emit('form');
      this._scheduleValidate();
    }
  }

  async save(): Promise<boolean> {
    if (this.saving) {
      return false;
    }
    this.saving = true;
    this._emit('load');
    try {
      const file = await this.api.saveRuntimeEnv(
        this.project,
        { yaml: this.text },
        this.etag
      );
      this._adopt(file);
      if (file.yaml !== this.text) {
        this._setText(file.yaml);
      }
      this.verdict = {
        valid: true,
        errors: [],
        warnings: file.warnings ?? [],
        ray_checked: this.verdict?.ray_checked
      };
      void this.refreshSize();
      return true;
    } catch (reason) {
      this.conflict = reason instanceof ApiError && reason.status === 409;
      this.error = errorMessage(reason);
      if (reason instanceof ApiError && reason.status === 400) {
        const errors = reason.details['errors'];
        if (Array.isArray(errors) && errors.length) {
          this.verdict = {
            valid: false,
            errors: errors as IRuntimeEnvFinding[],
            warnings: (reason.details['warnings'] as IRuntimeEnvFinding[]) ?? []
          };
        } else if (typeof reason.details['field'] === 'string') {
          this.verdict = {
            valid: false,
            errors: [
              { path: String(reason.details['field']), message: reason.message }
            ],
            warnings: []
          };
        }
      }
      return false;
    } finally {
      this.saving = false;
      this._emit('load');
    }
  }

  async validate(): Promise<void> {
    if (this.yamlError) {
      this.verdict = null;
      this._emit('load');
      return;
    }
    this._abort?.abort();
    const abort = (this._abort = new AbortController());
    try {
      const verdict = await this.api.validateRuntimeEnv(
        this.project,
        { runtime_env: this.value },
        abort.signal
      );
      if (!abort.signal.aborted) {
        this.verdict = verdict;
        this._emit('load');
      }
    } catch (reason) {
      if (!abort.signal.aborted) {
        this.verdict = {
          valid: false,
          errors: [{ path: '', message: errorMessage(reason) }],
          warnings: []
        };
        this._emit('load');
      }
    }
  }

  async refreshSize(): Promise<void> {
    try {
      this.size = await this.api.getWorkingDirSize(this.project);
    } catch {
      this.size = null;
    }
    this._emit('load');
  }

  /** Install the saved env's pip packages onto shared storage, then reload. */
  async installShared(): Promise<IInstallEvent | null> {
    if (this.install.running) {
      return null;
    }
    this.install = { running: true, lines: [], progress: null, result: null };
    this._emit('load');
    let result: IInstallEvent | null = null;
    try {
      result = await this.api.installRuntimeEnv(this.project, {}, event => {
        if (event.type === 'line' && event.text !== undefined) {
          this.install.lines = [...this.install.lines, event.text].slice(-500);
        } else if (event.type === 'progress' || event.type === 'start') {
          this.install.progress =
            event.phase && event.total
              ? this._trans.__(
                  '%1 (%2 collected, %3 asked)',
                  event.phase,
                  event.collected ?? 0,
                  event.total
                )
              : (event.message ?? event.folder ?? null);
        }
        this._emit('load');
      });
    } catch (reason) {
      result = {
        type: 'error',
        message:
          reason instanceof ApiError
            ? reason.message
            : this._interrupted(errorMessage(reason))
      };
    }
    if (result?.type !== 'done' && result?.type !== 'error') {
      // the stream ended without its last word: the server stopped under it
      result = { type: 'error', message: this._interrupted('') };
    }
    this.install = { ...this.install, running: false, result };
    this._emit('load');
    if (result?.type === 'done' && result.runtime_env) {
      await this.load();
    }
    return result;
  }

  dispose(): void {
    this._abort?.abort();
    if (this._timer !== null) {
      clearTimeout(this._timer);
    }
    Signal.clearData(this);
  }

  /** Why an install stopped when its stream broke off, and what to do now. */
  private _interrupted(detail: string): string {
    return this._trans.__(
      'The install was interrupted: the connection to the server ended before pip finished (%1). The server removes what it half-installed; install again.',
      detail || this._trans.__('the server stopped or restarted')
    );
  }

  /** Take `file` as the saved state: what the server holds now, no error. */
  private _adopt(file: IRuntimeEnvFile): void {
    this.path = file.path;
    this.etag = file.etag;
    this.exists = file.exists;
    this.savedText = file.yaml;
    this.error = null;
    this.conflict = false;
  }

  private _setText(text: string): void {
    this.text = text;
    const parsed = parseYaml(text, this._trans);
    this.yamlError = parsed.error;
    if (parsed.value) {
      this.value = parsed.value;
    }
  }

  private _scheduleValidate(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
    }
    this._timer = setTimeout(() => {
      this._timer = null;
      void this.validate();
    }, this._delay);
  }

  private _emit(origin: Origin): void {
    this._changed.emit(origin);
  }

  private _changed = new Signal<this, Origin>(this);
  private _delay: number;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private readonly _trans: TranslationBundle;
  private _abort: AbortController | null = null;
}
