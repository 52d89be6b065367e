import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  errorMessage,
  type IPromoteRequest,
  type IPromotionPlan,
  type IStorageRoot,
  type PromoteVariant,
  type RayDevAPI
} from '../api';
import {
  buildBlocker,
  differencesFromDev,
  objectStoreRoots,
  otherWarnings,
  runTimeLabel,
  shapeNumberLines,
  shapeSourceLine
} from './model';
import { BuildPathRow } from './parts';
import { SourceReview } from './source';

/** What a new schedule starts as: the example the review explains. */
export const DEFAULT_SCHEDULE = '0 2 * * 1-5';

/** The browser's IANA zone, the schedule's first zone (null when it has none). */
function browserZone(): string | null {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
  } catch {
    return null;
  }
}

/** The request when the variant changes: a RayCronJob gets a schedule, the others none. */
export function withVariant(
  request: IPromoteRequest,
  variant: PromoteVariant,
  zone: string | null = browserZone()
): IPromoteRequest {
  const { schedule, time_zone, suspend, ...rest } = request;
  if (variant !== 'raycronjob') {
    return { ...rest, variant };
  }
  return {
    ...rest,
    variant,
    schedule: schedule || DEFAULT_SCHEDULE,
    time_zone: time_zone ?? zone,
    suspend: suspend ?? false
  };
}

export interface IPromoteReviewProps {
  api: RayDevAPI;
  project: string;
  candidates: string[];
  initialEntrypoint: string | null;
  initialPlan: IPromotionPlan | null;
  initialError: string | null;
  trans: TranslationBundle;
  /** Told the request and plan on screen (the dialog's buttons act on them). */
  onPlan: (plan: IPromotionPlan | null, request: IPromoteRequest) => void;
  /** Told the object-store root chosen for the runtime_env path (null: none). */
  onStorageRoot: (root: string | null) => void;
}

/** The class that finds the review dialog's "Build and push" button. */
export const BUILD_BUTTON_CLASS = 'jp-RayDev-promoteBuildButton';

/**
 * Disable "Build and push" while the build cannot run, and say why on the button
 * (the review shows the same reason in its body; it comes translated).
 */
export function syncBuildButton(
  root: HTMLElement,
  state: { disabled: boolean; reason: string | null }
): void {
  const button = root.querySelector<HTMLButtonElement>(
    `button.${BUILD_BUTTON_CLASS}`
  );
  if (!button) {
    return;
  }
  button.disabled = state.disabled;
  button.title = state.reason ?? '';
  button.setAttribute('aria-disabled', String(state.disabled));
}

function ReadOnly(props: { text: string; testid: string }): JSX.Element {
  return (
    <pre
      className="jp-RayDev-promoteCode"
      data-testid={props.testid}
      aria-readonly="true"
    >
      {props.text}
    </pre>
  );
}

/** The review dialog's body: everything the image will be, before it is built. */
export function PromoteReview(props: IPromoteReviewProps): JSX.Element {
  const { trans, api, project } = props;
  const [request, setRequest] = React.useState<IPromoteRequest>({
    entrypoint: props.initialEntrypoint,
    variant: 'rayjob'
  });
  const [plan, setPlan] = React.useState(props.initialPlan);
  const [error, setError] = React.useState(props.initialError);
  const [loading, setLoading] = React.useState(false);

  // Two reviews can be in flight (a field's blur, then a click): the last asked wins.
  const asked = React.useRef(0);
  const replan = async (next: IPromoteRequest): Promise<void> => {
    const mine = ++asked.current;
    setRequest(next);
    setLoading(true);
    try {
      const fresh = await api.planPromotion(project, next);
      if (mine === asked.current) {
        setPlan(fresh);
        setError(null);
        props.onPlan(fresh, next);
      }
    } catch (reason) {
      if (mine === asked.current) {
        setPlan(null);
        setError(errorMessage(reason));
        props.onPlan(null, next);
      }
    } finally {
      if (mine === asked.current) {
        setLoading(false);
      }
    }
  };

  const blocker = plan ? buildBlocker(plan, trans) : null;
  return (
    <div className="jp-RayDev-promote" data-testid="ray-promote-review">
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('Entrypoint')}</span>
        {props.candidates.length > 1 ? (
          <select
            className="jp-mod-styled"
            data-testid="ray-promote-entrypoint"
            value={request.entrypoint ?? ''}
            disabled={loading}
            onChange={event =>
              void replan({ ...request, entrypoint: event.currentTarget.value })
            }
          >
            {request.entrypoint ? null : (
              <option value="">{trans.__('Choose…')}</option>
            )}
            {props.candidates.map(path => (
              <option key={path} value={path}>
                {path}
              </option>
            ))}
          </select>
        ) : (
          <code data-testid="ray-promote-entrypoint">
            {request.entrypoint ?? '—'}
          </code>
        )}
      </div>
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('Deploy as')}</span>
        <select
          className="jp-mod-styled"
          data-testid="ray-promote-variant"
          aria-label={trans.__('Deploy as')}
          value={request.variant ?? 'rayjob'}
          disabled={loading}
          onChange={event =>
            void replan(
              withVariant(request, event.currentTarget.value as PromoteVariant)
            )
          }
        >
          <option value="rayjob">
            {trans.__('RayJob + RayCluster (run the entrypoint)')}
          </option>
          <option value="rayservice">
            {trans.__('RayService (serve the project’s Serve app)')}
          </option>
          <option value="raycronjob">
            {trans.__('RayCronJob (run the entrypoint on a schedule)')}
          </option>
        </select>
      </div>
      {request.variant === 'raycronjob' ? (
        <ScheduleFields
          request={request}
          disabled={loading}
          trans={trans}
          onChange={next => void replan(next)}
        />
      ) : null}
      {error ? (
        <div className="jp-RayDev-promoteError" role="alert">
          {error}
        </div>
      ) : null}
      {loading ? <div>{trans.__('Preparing the review…')}</div> : null}
      <SourceReview
        api={api}
        project={project}
        plan={plan}
        request={request}
        loading={loading}
        trans={trans}
        onReplan={replan}
      />
      {plan ? <PlanView plan={plan} trans={trans} blocker={blocker} /> : null}
      <StorageChoice api={api} trans={trans} onChange={props.onStorageRoot} />
    </div>
  );
}

/**
 * The RayCronJob's schedule, zone and suspend. Text fields re-plan when they
 * are left or Enter is pressed, not on every key: the review asks the server.
 * They are one-line textareas: the dialog takes Enter in an <input> as its
 * default button, "Build and push".
 */
function ScheduleFields(props: {
  request: IPromoteRequest;
  disabled: boolean;
  trans: TranslationBundle;
  onChange: (request: IPromoteRequest) => void;
}): JSX.Element {
  const { request, trans, disabled } = props;
  const [schedule, setSchedule] = React.useState(request.schedule ?? '');
  const [zone, setZone] = React.useState(request.time_zone ?? '');
  React.useEffect(
    () => setSchedule(request.schedule ?? ''),
    [request.schedule]
  );
  React.useEffect(() => setZone(request.time_zone ?? ''), [request.time_zone]);
  const typed = { schedule, time_zone: zone.trim() || null };
  const commit = (): void => {
    const next = { ...request, ...typed };
    if (
      next.schedule !== request.schedule ||
      next.time_zone !== (request.time_zone ?? null)
    ) {
      props.onChange(next);
    }
  };
  const onKey = (event: React.KeyboardEvent<HTMLTextAreaElement>): void => {
    if (event.key === 'Enter') {
      event.preventDefault();
      commit();
    }
  };
  return (
    <div
      className="jp-RayDev-promoteSchedule"
      data-testid="ray-promote-schedule"
    >
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('Schedule')}</span>
        <textarea
          rows={1}
          wrap="off"
          className="jp-mod-styled jp-RayDev-promoteField"
          data-testid="ray-promote-cron"
          aria-label={trans.__('Schedule (five cron fields)')}
          placeholder={DEFAULT_SCHEDULE}
          value={schedule}
          disabled={disabled}
          onChange={event =>
            setSchedule(event.currentTarget.value.replace(/\s+/g, ' '))
          }
          onBlur={commit}
          onKeyDown={onKey}
        />
        <span className="jp-RayDev-promoteHint">
          {trans.__('minute hour day-of-month month day-of-week')}
        </span>
      </div>
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('Time zone')}</span>
        <textarea
          rows={1}
          wrap="off"
          className="jp-mod-styled jp-RayDev-promoteField"
          data-testid="ray-promote-time-zone"
          aria-label={trans.__('Time zone (IANA name)')}
          placeholder="UTC"
          value={zone}
          disabled={disabled}
          onChange={event => setZone(event.currentTarget.value.trim())}
          onBlur={commit}
          onKeyDown={onKey}
        />
      </div>
      <label className="jp-RayDev-promoteRow">
        <input
          type="checkbox"
          data-testid="ray-promote-suspend"
          checked={!!request.suspend}
          // not disabled while a review loads: leaving a text field for this
          // box starts one, and a disabled box would swallow the click
          onChange={event =>
            props.onChange({
              ...request,
              ...typed,
              suspend: event.currentTarget.checked
            })
          }
        />
        {trans.__('Create it suspended (no runs until resumed)')}
      </label>
    </div>
  );
}

/**
 * The runtime_env path's root: the guide's second production path, offered
 * beside the image and marked as less reproducible.
 */
function StorageChoice(props: {
  api: RayDevAPI;
  trans: TranslationBundle;
  onChange: (root: string | null) => void;
}): JSX.Element {
  const { api, trans } = props;
  const [roots, setRoots] = React.useState<IStorageRoot[] | null>(null);
  const [chosen, setChosen] = React.useState<string | null>(null);
  React.useEffect(() => {
    api.listStorageRoots().then(
      all => {
        const usable = objectStoreRoots(all);
        setRoots(usable);
        const first = usable[0]?.name ?? null;
        setChosen(first);
        props.onChange(first);
      },
      () => setRoots([])
    );
  }, []);
  return (
    <div
      className="jp-RayDev-promotePackage"
      data-testid="ray-promote-package-choice"
    >
      <h3>{trans.__('Or: code on object storage (less reproducible)')}</h3>
      <p className="jp-RayDev-promoteWarning">
        {trans.__(
          'Uploads the code as a zip and emits a RayJob whose runtime_env points at it, ' +
            'for the stock rayproject/ray image. Less reproducible than the image: pip ' +
            'installs the pinned list on every node at start.'
        )}
      </p>
      {roots === null ? null : roots.length === 0 ? (
        <p>
          {trans.__(
            'No s3:// or gs:// storage root is configured (c.RayDev.storage_roots).'
          )}
        </p>
      ) : (
        <div className="jp-RayDev-promoteRow">
          <span className="jp-RayDev-promoteLabel">
            {trans.__('Upload to')}
          </span>
          <select
            className="jp-mod-styled"
            data-testid="ray-promote-storage-root"
            aria-label={trans.__('Storage root for the code zip')}
            value={chosen ?? ''}
            onChange={event => {
              setChosen(event.currentTarget.value);
              props.onChange(event.currentTarget.value);
            }}
          >
            {roots.map(root => (
              <option key={root.name} value={root.name}>
                {root.name} ({root.url})
              </option>
            ))}
          </select>
        </div>
      )}
    </div>
  );
}

function PlanView(props: {
  plan: IPromotionPlan;
  trans: TranslationBundle;
  blocker: string | null;
}): JSX.Element {
  const { plan, trans, blocker } = props;
  const differences = differencesFromDev(plan, trans);
  const warnings = otherWarnings(plan);
  return (
    <>
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('Runs')}</span>
        <code data-testid="ray-promote-command">{plan.entrypoint.command}</code>
      </div>
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('Image')}</span>
        <code data-testid="ray-promote-image">
          {plan.image ?? trans.__('(no registry configured)')}
        </code>
      </div>
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('From')}</span>
        <code>{plan.base_image}</code>
      </div>
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('Builders')}</span>
        <ul
          className="jp-RayDev-promoteList"
          data-testid="ray-promote-builders"
        >
          {plan.builders.map(builder => (
            <li key={builder.name}>
              {builder.available ? '✓' : '✗'} {builder.name}: {builder.reason}
            </li>
          ))}
        </ul>
      </div>
      {plan.build_path ? (
        <BuildPathRow
          path={plan.build_path}
          testId="ray-promote-build-path"
          trans={trans}
        />
      ) : null}
      {blocker ? (
        <div
          className="jp-RayDev-promoteError"
          role="alert"
          data-testid="ray-promote-blocker"
        >
          {blocker}
        </div>
      ) : null}
      {warnings.length ? (
        <div data-testid="ray-promote-warnings" role="note">
          <h3>{trans.__('Warnings')}</h3>
          <ul className="jp-RayDev-promoteList">
            {warnings.map((warning, i) => (
              <li
                key={i}
                className="jp-RayDev-promoteWarning"
                data-kind={warning.kind}
              >
                {warning.message}
              </li>
            ))}
          </ul>
        </div>
      ) : null}
      <h3>
        {trans.__(
          'Requirements (pinned, from %1)',
          plan.requirements.source || '—'
        )}
      </h3>
      <ReadOnly
        testid="ray-promote-requirements"
        text={plan.requirements.requirements.join('\n') || trans.__('(none)')}
      />
      <h3>{trans.__('What differs from dev')}</h3>
      <ul
        className="jp-RayDev-promoteList"
        data-testid="ray-promote-differences"
      >
        {differences.length === 0 ? <li>{trans.__('Nothing')}</li> : null}
        {differences.map((item, i) => (
          <li key={i} className={`jp-RayDev-promoteDiff-${item.kind}`}>
            {item.text}
          </li>
        ))}
      </ul>
      <h3>{trans.__('Dockerfile')}</h3>
      <ReadOnly testid="ray-promote-dockerfile" text={plan.dockerfile} />
      {plan.serve_app_error ? (
        <div className="jp-RayDev-promoteWarning" role="note">
          {trans.__(
            'The RayService variant cannot run: %1',
            plan.serve_app_error
          )}
        </div>
      ) : null}
      {plan.variant === 'rayservice' && plan.serve_app ? (
        <div className="jp-RayDev-promoteRow">
          <span className="jp-RayDev-promoteLabel">{trans.__('Serves')}</span>
          <code data-testid="ray-promote-serve-app">
            {plan.serve_app.import_paths.join(', ')}
          </code>
          <span>{trans.__('(from %1)', plan.serve_app.source)}</span>
        </div>
      ) : null}
      {plan.schedule ? (
        <div data-testid="ray-promote-next-runs-block">
          <h3>
            {trans.__(
              'Next runs of %1 (%2)',
              plan.schedule.schedule,
              plan.schedule.zone_shown
            )}
          </h3>
          {plan.schedule.suspend ? (
            <p>
              {trans.__('Created suspended: none of these runs until resumed.')}
            </p>
          ) : null}
          <ol
            className="jp-RayDev-promoteList"
            data-testid="ray-promote-next-runs"
          >
            {plan.schedule.next_runs.map(run => (
              <li key={run}>
                <time dateTime={run}>{runTimeLabel(run)}</time>
              </li>
            ))}
          </ol>
        </div>
      ) : null}
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('Logs')}</span>
        <span
          data-testid="ray-promote-logs"
          className={plan.logs.configured ? '' : 'jp-RayDev-promoteWarning'}
        >
          {plan.logs.configured
            ? trans.__(
                'Kept by KubeRay’s History Server in %1: the manifests carry historyServerOptions (the operator needs the RayClusterHistoryServer feature gate, the pods write access to the bucket).',
                plan.logs.uri ?? ''
              )
            : trans.__(
                'The logs go with the cluster: it is deleted when the run ends. To keep them, the server needs c.RayDev.history_server (an s3:// or gs:// storage root and folder for KubeRay’s History Server); a dev job’s log can be saved to storage from its log tab.'
              )}
        </span>
      </div>
      {plan.logs.error ? (
        <div className="jp-RayDev-promoteError" role="alert">
          {trans.__(
            'c.RayDev.history_server cannot be used: %1',
            plan.logs.error
          )}
        </div>
      ) : null}
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('Shape')}</span>
        <span data-testid="ray-promote-shape">
          {shapeSourceLine(plan, trans)}
        </span>
      </div>
      {plan.shape_source.numbers?.length ? (
        <ul data-testid="ray-promote-shape-numbers">
          {shapeNumberLines(plan, trans).map(line => (
            <li
              key={line.text}
              className={line.flagged ? 'jp-RayDev-promoteWarning' : ''}
              role={line.flagged ? 'note' : undefined}
            >
              {line.text}
            </li>
          ))}
        </ul>
      ) : null}
      <h3>
        {plan.variant === 'rayservice'
          ? trans.__('KubeRay manifest (RayService)')
          : plan.variant === 'raycronjob'
            ? trans.__('KubeRay manifest (RayCronJob)')
            : trans.__('KubeRay manifests (RayJob, RayCluster)')}
      </h3>
      <ReadOnly testid="ray-promote-manifests" text={plan.manifests} />
    </>
  );
}
