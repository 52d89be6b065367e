/**
 * Where the review's pinned versions come from: a recorded run of the project
 * (the latest succeeded one by default) or this server's Python. The picker
 * re-plans through the dialog's plan request; the rest shows what the plan
 * says of its source: each pin's origin, the run's warnings, the project's
 * files changed since the run, and what the run imported that the project
 * never declared, with *Add to runtime_env.yaml*.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  errorMessage,
  type IPinSource,
  type IPromoteRequest,
  type IPromotionPlan,
  type IReviewWarning,
  type IRunSummary,
  type RayDevAPI
} from '../api';
import { formatTime } from '../time';

/** The request's `source_run` values besides a run's id. */
export const LATEST_RUN = 'latest';
export const SERVER_PYTHON = 'server';

export type PlanSource = IPromotionPlan['source'];
export type ChangedFilesInfo = NonNullable<IPromotionPlan['changed_files']>;
export type UndeclaredPackage = IPromotionPlan['undeclared'][number];

/** When a run started (its driver), else when it was submitted. */
export function runStarted(run: IRunSummary): number {
  return run.started ?? run.created;
}

/** One run in the picker: its id, time and status, and why it cannot be used. */
export function runLabel(run: IRunSummary, trans: TranslationBundle): string {
  const status = run.status ?? run.state;
  const label = `${run.submission_id} · ${formatTime(runStarted(run))} · ${status}`;
  return run.usable ? label : trans.__('%1 (no record of its packages)', label);
}

/** Where one pin's version came from, for the review. */
export function originLabel(
  from: IPinSource | undefined,
  trans: TranslationBundle
): string {
  if (!from) {
    return trans.__('origin unknown');
  }
  if (from.kind === 'run' && from.run_id) {
    return from.time !== null
      ? trans.__('from the run %1 (%2)', from.run_id, formatTime(from.time))
      : trans.__('from the run %1', from.run_id);
  }
  if (from.kind === 'file') {
    return trans.__('a file of the project');
  }
  return trans.__('from this server’s Python');
}

/** Where the version of one pinned requirement came from. */
export function pinLabel(
  change: IPromotionPlan['requirements']['changes'][number],
  trans: TranslationBundle
): string {
  switch (change.how) {
    case 'installed':
      return originLabel(change.from, trans);
    case 'exact':
      // the project's own pin wins over whatever the run had installed
      return trans.__('exact as the project declares it');
    case 'url':
      return trans.__('pinned by its URL');
    case 'local':
      return trans.__('a file of the project, copied into the image');
    case 'base_image':
      return trans.__('provided by the base image');
  }
}

/** The request with another source of pins (`latest` is the server's default). */
export function withSource(
  request: IPromoteRequest,
  value: string
): IPromoteRequest {
  return { ...request, source_run: value };
}

/** The run picker: the latest succeeded run, each run of the project, this server's Python. */
export function SourcePicker(props: {
  source: PlanSource | null;
  value: string;
  disabled: boolean;
  trans: TranslationBundle;
  onChange: (value: string) => void;
}): JSX.Element {
  const { source, value, trans } = props;
  const id = React.useId();
  const runs = source?.runs ?? [];
  const latest =
    source && source.requested === LATEST_RUN && source.run
      ? trans.__('Latest succeeded run (%1)', source.run.submission_id)
      : trans.__('Latest succeeded run');
  const listed =
    value === LATEST_RUN ||
    value === SERVER_PYTHON ||
    runs.some(run => run.submission_id === value);
  return (
    <div className="jp-RayDev-promoteRow">
      <label className="jp-RayDev-promoteLabel" htmlFor={id}>
        {trans.__('Pin from')}
      </label>
      <select
        id={id}
        className="jp-mod-styled"
        data-testid="ray-promote-source-run"
        title={trans.__('Where the pinned versions come from')}
        value={value}
        disabled={props.disabled}
        onChange={event => props.onChange(event.currentTarget.value)}
      >
        <option value={LATEST_RUN}>{latest}</option>
        {runs.map(run => (
          <option key={run.submission_id} value={run.submission_id}>
            {runLabel(run, trans)}
          </option>
        ))}
        {listed ? null : <option value={value}>{value}</option>}
        <option value={SERVER_PYTHON}>
          {trans.__('This server’s Python')}
        </option>
      </select>
    </div>
  );
}

/** What the plan warns of its source (an unreadable record, a failed run...). */
export function SourceWarnings(props: {
  warnings: IReviewWarning[];
}): JSX.Element | null {
  if (!props.warnings.length) {
    return null;
  }
  return (
    <ul
      className="jp-RayDev-promoteList jp-RayDev-sourceWarnings"
      data-testid="ray-promote-source-warnings"
      role="note"
    >
      {props.warnings.map((warning, i) => (
        <li key={i} data-kind={warning.kind}>
          {warning.message}
        </li>
      ))}
    </ul>
  );
}

/** Each requirement with where its version came from. */
export function PinOrigins(props: {
  requirements: IPromotionPlan['requirements'];
  trans: TranslationBundle;
}): JSX.Element | null {
  const { requirements, trans } = props;
  if (!requirements.changes.length && !requirements.unpinned.length) {
    return null;
  }
  const notImported = (from?: IPinSource): string =>
    from?.imported === false
      ? ` ${trans.__('(the run did not import it)')}`
      : '';
  return (
    <ul
      className="jp-RayDev-promoteList jp-RayDev-pinOrigins"
      data-testid="ray-promote-pin-origins"
    >
      {requirements.changes.map(change => (
        <li key={`pin-${change.spec}`} data-package={change.name}>
          <code>{change.pinned ?? change.spec}</code>{' '}
          <span className="jp-RayDev-pinOrigin">
            {pinLabel(change, trans)}
            {notImported(change.from)}
          </span>
        </li>
      ))}
      {requirements.unpinned.map(item => (
        <li
          key={`unpinned-${item.spec}`}
          data-package={item.name ?? item.spec}
          className="jp-RayDev-pinUnpinned"
        >
          <code>{item.spec}</code>{' '}
          <span className="jp-RayDev-pinOrigin">
            {item.from
              ? trans.__('not pinned, %1', originLabel(item.from, trans))
              : trans.__('not pinned')}
            {notImported(item.from)}
          </span>
        </li>
      ))}
    </ul>
  );
}

/** The project's files that changed since the run the pins come from. */
export function ChangedFiles(props: {
  changed: ChangedFilesInfo | null;
  trans: TranslationBundle;
}): JSX.Element | null {
  const { changed, trans } = props;
  if (!changed) {
    return null;
  }
  if (!changed.changed) {
    return (
      <p data-testid="ray-promote-changed-files">
        {trans.__(
          'The project’s files are as they were in the run %1.',
          changed.since
        )}
      </p>
    );
  }
  const groups: [string, string[]][] = [
    [trans.__('Modified'), changed.modified],
    [trans.__('Added'), changed.added],
    [trans.__('Removed'), changed.removed]
  ];
  return (
    <div
      className="jp-RayDev-changedFiles"
      data-testid="ray-promote-changed-files"
    >
      <p className="jp-RayDev-promoteWarning">
        {trans.__(
          'The project’s files changed since the run %1: the image holds them as they are now, which that run did not test.',
          changed.since
        )}
      </p>
      <dl>
        {groups
          .filter(([, files]) => files.length > 0)
          .map(([label, files]) => (
            <React.Fragment key={label}>
              <dt>{label}</dt>
              <dd>
                <ul className="jp-RayDev-promoteList">
                  {files.map(file => (
                    <li key={file}>
                      <code>{file}</code>
                    </li>
                  ))}
                </ul>
              </dd>
            </React.Fragment>
          ))}
      </dl>
    </div>
  );
}

/** What the run imported that the project never declared, each with *Add*. */
export function UndeclaredImports(props: {
  items: UndeclaredPackage[];
  project: string;
  busy: string | null;
  error: string | null;
  disabled: boolean;
  trans: TranslationBundle;
  onAdd: (item: UndeclaredPackage) => void;
}): JSX.Element | null {
  const { items, trans } = props;
  if (!items.length && !props.error) {
    return null;
  }
  return (
    <div className="jp-RayDev-undeclared" data-testid="ray-promote-undeclared">
      <h3>{trans.__('Imported by the run, declared nowhere')}</h3>
      {props.error ? (
        <div className="jp-RayDev-promoteError" role="alert">
          {props.error}
        </div>
      ) : null}
      <ul className="jp-RayDev-promoteList">
        {items.map(item => (
          <li key={item.name} data-package={item.name}>
            <code>{item.requirement}</code>{' '}
            <span className="jp-RayDev-pinOrigin">
              {trans.__('(imports %1)', item.modules.join(', '))}
            </span>{' '}
            <button
              className="jp-Button jp-mod-styled jp-mod-accept"
              disabled={props.disabled || props.busy !== null}
              title={trans.__(
                'Add %1 to %2/runtime_env.yaml',
                item.requirement,
                props.project || '.'
              )}
              onClick={() => props.onAdd(item)}
            >
              {props.busy === item.name
                ? trans.__('Adding…')
                : trans.__('Add to runtime_env.yaml')}
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

export interface ISourceReviewProps {
  api: RayDevAPI;
  /** The project folder (API path). */
  project: string;
  plan: IPromotionPlan | null;
  request: IPromoteRequest;
  loading: boolean;
  trans: TranslationBundle;
  /** Plan again with this request (the dialog's plan request). */
  onReplan: (request: IPromoteRequest) => Promise<void>;
}

/** The review's "tested environment" block: picker, warnings, origins, changes, imports. */
export function SourceReview(props: ISourceReviewProps): JSX.Element {
  const { api, project, plan, request, trans } = props;
  // a refused choice leaves no plan: keep the runs offered so another can be picked
  const [source, setSource] = React.useState<PlanSource | null>(
    plan?.source ?? null
  );
  const [busy, setBusy] = React.useState<string | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  React.useEffect(() => {
    if (plan) {
      setSource(plan.source);
    }
  }, [plan]);

  const add = async (item: UndeclaredPackage): Promise<void> => {
    setBusy(item.name);
    setError(null);
    try {
      await api.addRuntimeEnvPackages(project, [item.requirement]);
    } catch (reason) {
      setError(errorMessage(reason));
      setBusy(null);
      return;
    }
    setBusy(null);
    await props.onReplan(request);
  };

  return (
    <section
      className="jp-RayDev-promoteSource"
      data-testid="ray-promote-source"
      aria-label={trans.__('Where the pinned versions come from')}
    >
      <SourcePicker
        source={source}
        value={request.source_run || LATEST_RUN}
        disabled={props.loading || busy !== null}
        trans={trans}
        onChange={value => void props.onReplan(withSource(request, value))}
      />
      {plan ? (
        <>
          <p
            className="jp-RayDev-sourceDescription"
            data-testid="ray-promote-source-description"
            data-kind={plan.source.kind}
          >
            {plan.source.run
              ? trans.__(
                  'Versions as installed in the run %1 of %2 (%3, %4).',
                  plan.source.run.submission_id,
                  plan.source.run.file,
                  formatTime(runStarted(plan.source.run)),
                  plan.source.run.status ?? plan.source.run.state
                )
              : trans.__(
                  'Versions as installed in this server’s Python, which may differ from what a job runs in.'
                )}
          </p>
          <SourceWarnings warnings={plan.source.warnings} />
          <PinOrigins requirements={plan.requirements} trans={trans} />
          <ChangedFiles changed={plan.changed_files} trans={trans} />
          <UndeclaredImports
            items={plan.undeclared}
            project={project}
            busy={busy}
            error={error}
            disabled={props.loading}
            trans={trans}
            onAdd={item => void add(item)}
          />
        </>
      ) : null}
    </section>
  );
}
