/**
 * "Apply to cluster": the last step of "Promote to prod". A server-side dry
 * run shows the diff; only the dialog's Apply button changes the cluster.
 * Then the KubeRay status, polled a few times and on demand.
 */
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  errorMessage,
  type IApplyResult,
  type IKubeRayStatus,
  type RayDevAPI
} from '../api';
import { UnifiedDiff } from './diffview';
import {
  applicableManifests,
  applyBlocker,
  dashboardHref,
  defaultManifest,
  diffLines,
  diffStats,
  manifestLabel,
  parseManifests,
  statusFields,
  statusSettled,
  STATUS_POLL_DELAYS,
  type IManifestChoice,
  type StatusField
} from './model';

/** The server's own words, line breaks kept (an RBAC refusal ends with a Role rule). */
export async function showServerError(
  title: string,
  reason: unknown
): Promise<void> {
  await showErrorMessage(title, {
    message: (
      <pre className="jp-RayDev-applyErrorText">{errorMessage(reason)}</pre>
    )
  });
}

/** The dry run's unified diff, added and removed lines coloured. */
export function ApplyDiff(props: {
  result: IApplyResult;
  trans: TranslationBundle;
}): JSX.Element {
  const { result, trans } = props;
  const lines = diffLines(result.diff);
  const stats = diffStats(lines);
  const where = result.namespace
    ? trans.__(
        '%1/%2 in namespace %3',
        result.kind,
        result.name,
        result.namespace
      )
    : trans.__('%1/%2', result.kind, result.name);
  return (
    <div className="jp-RayDev-applyReview" data-testid="ray-apply-review">
      <p>
        {result.exists
          ? trans.__('%1 exists on the cluster and will be updated.', where)
          : trans.__('%1 does not exist yet and will be created.', where)}
      </p>
      {lines.length === 0 ? (
        <p>
          {result.changed
            ? trans.__('The server reported a change but no diff.')
            : trans.__('No changes: the cluster already has this object.')}
        </p>
      ) : (
        <>
          <p className="jp-RayDev-applyStats">
            {trans.__('%1 lines added, %2 removed', stats.added, stats.removed)}
          </p>
          <UnifiedDiff diff={result.diff} testid="ray-apply-diff" />
        </>
      )}
    </div>
  );
}

/** The dry run's diff in a dialog; true when the user clicks Apply. */
export async function confirmApply(
  title: string,
  review: IApplyResult,
  trans: TranslationBundle
): Promise<boolean> {
  const answer = await showDialog({
    title,
    body: ReactWidget.create(<ApplyDiff result={review} trans={trans} />),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: trans.__('Apply') })
    ],
    hasClose: true
  });
  return answer.button.accept;
}

interface IApplied {
  kind: string;
  name: string;
  namespace: string | null;
}

/** The result area's "Apply to cluster" button, manifest select and status. */
export function ApplyToCluster(props: {
  api: RayDevAPI;
  manifests: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { api, manifests, trans } = props;
  const [discovery, setDiscovery] = React.useState<{
    in_kubernetes: boolean;
    message: string | null;
  } | null>(null);
  const [discoveryError, setDiscoveryError] = React.useState<string | null>(
    null
  );
  const [busy, setBusy] = React.useState(false);
  const [applied, setApplied] = React.useState<IApplied | null>(null);
  const [status, setStatus] = React.useState<IKubeRayStatus | null>(null);
  const [statusError, setStatusError] = React.useState<string | null>(null);
  const [refreshing, setRefreshing] = React.useState(false);
  const alive = React.useRef(true);

  // discovery once: outside Kubernetes the button says why it is disabled
  React.useEffect(() => {
    alive.current = true;
    api.getKubernetes().then(
      found => alive.current && setDiscovery(found),
      reason => alive.current && setDiscoveryError(errorMessage(reason))
    );
    return () => {
      alive.current = false;
    };
  }, []);

  const parsed = React.useMemo((): {
    choices: IManifestChoice[];
    error: string | null;
  } => {
    try {
      return {
        choices: applicableManifests(parseManifests(manifests, trans)),
        error: null
      };
    } catch (reason) {
      return {
        choices: [],
        error: errorMessage(reason)
      };
    }
  }, [manifests]);
  const [selected, setSelected] = React.useState(() =>
    Math.max(0, defaultManifest(parsed.choices))
  );
  const choice = parsed.choices[selected] ?? null;

  let blocker = applyBlocker(discovery, discoveryError, trans);
  if (blocker === null) {
    blocker =
      parsed.error ??
      (choice === null
        ? trans.__(
            'The manifests hold no RayCronJob, RayJob, RayService or RayCluster.'
          )
        : null);
  }

  const refresh = async (target: IApplied): Promise<boolean> => {
    setRefreshing(true);
    try {
      const next = await api.getKubeRayStatus(
        target.kind,
        target.name,
        target.namespace ?? undefined
      );
      if (alive.current) {
        setStatus(next);
        setStatusError(null);
      }
      return statusSettled(next);
    } catch (reason) {
      if (alive.current) {
        setStatusError(errorMessage(reason));
      }
      return false;
    } finally {
      if (alive.current) {
        setRefreshing(false);
      }
    }
  };

  const poll = async (target: IApplied): Promise<void> => {
    for (const delay of STATUS_POLL_DELAYS) {
      await new Promise(resolve => setTimeout(resolve, delay));
      if (!alive.current || (await refresh(target))) {
        return;
      }
    }
  };

  const apply = async (): Promise<void> => {
    if (!choice) {
      return;
    }
    setBusy(true);
    try {
      let review: IApplyResult;
      try {
        review = await api.applyManifest(choice.manifest, { dryRun: true });
      } catch (reason) {
        await showServerError(trans.__('Dry run failed'), reason);
        return;
      }
      const title = review.exists
        ? trans.__('Update %1 on the cluster?', manifestLabel(choice))
        : trans.__('Create %1 on the cluster?', manifestLabel(choice));
      if (!(await confirmApply(title, review, trans))) {
        return;
      }
      let done: IApplyResult;
      try {
        done = await api.applyManifest(choice.manifest, { dryRun: false });
      } catch (reason) {
        await showServerError(trans.__('Apply failed'), reason);
        return;
      }
      if (!alive.current) {
        return;
      }
      const target = {
        kind: done.kind || choice.kind,
        name: done.name || choice.name,
        namespace: done.namespace || choice.namespace
      };
      setApplied(target);
      setStatus(done.status);
      setStatusError(null);
      if (!done.status || !statusSettled(done.status)) {
        void poll(target);
      }
    } finally {
      if (alive.current) {
        setBusy(false);
      }
    }
  };

  const labels: Record<StatusField, string> = {
    deployment: trans.__('Deployment'),
    job: trans.__('Job'),
    service: trans.__('Service'),
    state: trans.__('State'),
    schedule: trans.__('Schedule'),
    suspended: trans.__('Suspended'),
    last_schedule: trans.__('Last run'),
    message: trans.__('Message')
  };

  return (
    <div className="jp-RayDev-apply" data-testid="ray-apply">
      <div className="jp-RayDev-promoteActions">
        {parsed.choices.length > 1 ? (
          <select
            className="jp-RayDev-applySelect"
            aria-label={trans.__('Object to apply')}
            data-testid="ray-apply-select"
            value={selected}
            disabled={busy}
            onChange={event => setSelected(Number(event.target.value))}
          >
            {parsed.choices.map((item, i) => (
              <option key={i} value={i}>
                {manifestLabel(item)}
              </option>
            ))}
          </select>
        ) : null}
        <button
          className="jp-mod-styled jp-mod-accept"
          data-testid="ray-apply-button"
          disabled={blocker !== null || busy}
          title={
            blocker ??
            trans.__(
              'Dry run on the server, review the diff, then apply %1',
              choice ? manifestLabel(choice) : ''
            )
          }
          onClick={() => void apply()}
        >
          {busy ? trans.__('Applying…') : trans.__('Apply to cluster')}
        </button>
      </div>
      {applied ? (
        <div className="jp-RayDev-applyStatus" data-testid="ray-apply-status">
          <div className="jp-RayDev-promoteRow">
            <span className="jp-RayDev-promoteLabel">
              {trans.__('Applied')}
            </span>
            <code>
              {applied.kind}/{applied.name}
              {applied.namespace ? ` (-n ${applied.namespace})` : ''}
            </code>
          </div>
          {status
            ? statusFields(status).map(([field, value]) => (
                <div className="jp-RayDev-promoteRow" key={field}>
                  <span className="jp-RayDev-promoteLabel">
                    {labels[field]}
                  </span>
                  <span>{field === 'suspended' ? trans.__('yes') : value}</span>
                </div>
              ))
            : null}
          {status?.jobs ? (
            <div className="jp-RayDev-promoteRow">
              <span className="jp-RayDev-promoteLabel">
                {trans.__('RayJobs')}
              </span>
              {status.jobs.length === 0 ? (
                <span>{trans.__('none stamped yet')}</span>
              ) : (
                <ul
                  className="jp-RayDev-promoteList"
                  data-testid="ray-apply-runs"
                >
                  {status.jobs.map(job => (
                    <li key={job.name}>
                      <code>{job.name}</code>{' '}
                      {job.job_status ?? job.job_deployment_status ?? '—'}
                      {job.scheduled_for
                        ? ` · ${trans.__('for %1', job.scheduled_for)}`
                        : ''}
                    </li>
                  ))}
                </ul>
              )}
            </div>
          ) : null}
          {status?.dashboard_url ? (
            <div className="jp-RayDev-promoteRow">
              <span className="jp-RayDev-promoteLabel">
                {trans.__('Dashboard')}
              </span>
              {dashboardHref(status.dashboard_url) ? (
                <a href={status.dashboard_url} target="_blank" rel="noreferrer">
                  {status.dashboard_url}
                </a>
              ) : (
                <code>{status.dashboard_url}</code>
              )}
            </div>
          ) : null}
          {statusError ? (
            <div className="jp-RayDev-promoteError">{statusError}</div>
          ) : null}
          <button
            className="jp-mod-styled"
            data-testid="ray-apply-refresh"
            disabled={refreshing}
            onClick={() => void refresh(applied)}
          >
            {trans.__('Refresh status')}
          </button>
        </div>
      ) : null}
    </div>
  );
}
