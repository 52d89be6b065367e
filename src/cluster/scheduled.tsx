/**
 * Scheduled promotions: the RayCronJobs "Promote to prod" made in this
 * namespace, each with its schedule, last run and state, and Suspend/Resume
 * when the server's service account may patch them. A suspend or resume is a
 * server-side dry run first, shown as a diff; only the dialog's button writes.
 */
import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import {
  errorMessage,
  type IScheduledPromotions,
  type ISuspendResult,
  type RayDevAPI
} from '../api';

export type ScheduledAPI = Pick<
  RayDevAPI,
  'listScheduledPromotions' | 'suspendRayCronJob'
>;

/** The dry run's diff, and true when the user confirms. */
async function confirmSuspend(
  title: string,
  review: ISuspendResult,
  trans: TranslationBundle
): Promise<boolean> {
  const body = (
    <div data-testid="ray-suspend-review">
      <p>
        {review.changed
          ? trans.__('The dry run on the server changes:')
          : trans.__('No changes: the cluster already has this setting.')}
      </p>
      {review.diff ? (
        <pre
          className="jp-RayDev-applyErrorText"
          data-testid="ray-suspend-diff"
        >
          {review.diff}
        </pre>
      ) : null}
    </div>
  );
  const answer = await showDialog({
    title,
    body: ReactWidget.create(body),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({
        label: review.suspend ? trans.__('Suspend') : trans.__('Resume')
      })
    ],
    hasClose: true
  });
  return answer.button.accept;
}

export function ScheduledPromotions(props: {
  api: ScheduledAPI;
  trans: TranslationBundle;
  refreshKey?: number;
}): JSX.Element {
  const { api, trans, refreshKey } = props;
  const [answer, setAnswer] = React.useState<IScheduledPromotions | null>(null);
  const [error, setError] = React.useState<string | null>(null);
  const [busy, setBusy] = React.useState<string | null>(null);
  const [reads, setReads] = React.useState(0);
  React.useEffect(() => {
    let current = true;
    api.listScheduledPromotions().then(
      value => current && (setAnswer(value), setError(null)),
      reason => current && setError(errorMessage(reason))
    );
    return () => {
      current = false;
    };
  }, [api, refreshKey, reads]);

  const toggle = async (name: string, suspend: boolean): Promise<void> => {
    setBusy(name);
    try {
      let review: ISuspendResult;
      try {
        review = await api.suspendRayCronJob(name, suspend, { dryRun: true });
      } catch (reason) {
        await showErrorMessage(trans.__('Dry run failed'), {
          message: (
            <pre className="jp-RayDev-applyErrorText">
              {errorMessage(reason)}
            </pre>
          )
        });
        return;
      }
      const title = suspend
        ? trans.__('Suspend the RayCronJob %1?', name)
        : trans.__('Resume the RayCronJob %1?', name);
      if (!(await confirmSuspend(title, review, trans))) {
        return;
      }
      try {
        await api.suspendRayCronJob(name, suspend, { dryRun: false });
      } catch (reason) {
        await showErrorMessage(
          suspend ? trans.__('Suspend failed') : trans.__('Resume failed'),
          {
            message: (
              <pre className="jp-RayDev-applyErrorText">
                {errorMessage(reason)}
              </pre>
            )
          }
        );
        return;
      }
      setReads(n => n + 1);
    } finally {
      setBusy(null);
    }
  };

  let body: JSX.Element;
  if (error) {
    body = (
      <p className="jp-RayDev-kuberayError" role="alert">
        {error}
      </p>
    );
  } else if (!answer) {
    body = <p className="jp-RayDev-muted">{trans.__('Reading…')}</p>;
  } else if (answer.cronjobs.length === 0) {
    body = (
      <p className="jp-RayDev-muted">
        {trans.__(
          'No scheduled promotions in namespace %1: promote as a RayCronJob and apply it.',
          answer.namespace
        )}
      </p>
    );
  } else {
    body = (
      <>
        {answer.can_suspend ? null : (
          <p
            className="jp-RayDev-kuberayError"
            data-testid="ray-scheduled-rbac"
            role="note"
          >
            {trans.__(
              'Suspend and resume are off: %1',
              answer.missing_rule ?? ''
            )}
          </p>
        )}
        <ul className="jp-RayDev-scheduledList">
          {answer.cronjobs.map(cron => (
            <li
              key={cron.name}
              className="jp-RayDev-scheduledRow"
              data-testid="ray-scheduled-row"
              data-name={cron.name}
            >
              <span className="jp-RayDev-scheduledName">
                {cron.project ? `${cron.project} · ${cron.name}` : cron.name}
              </span>
              <code>
                {cron.schedule} ({cron.time_zone || 'UTC'})
              </code>
              <span
                className="jp-RayDev-muted"
                data-testid="ray-scheduled-state"
              >
                {cron.suspend
                  ? trans.__('suspended')
                  : cron.last_schedule_time
                    ? trans.__('last run %1', cron.last_schedule_time)
                    : trans.__('not run yet')}
              </span>
              <button
                className="jp-mod-styled"
                data-testid="ray-scheduled-toggle"
                disabled={!answer.can_suspend || busy !== null}
                title={
                  answer.can_suspend
                    ? trans.__('Dry run on the server, review, then apply')
                    : (answer.missing_rule ?? '')
                }
                onClick={() => void toggle(cron.name, !cron.suspend)}
              >
                {cron.suspend ? trans.__('Resume') : trans.__('Suspend')}
              </button>
            </li>
          ))}
        </ul>
      </>
    );
  }
  return (
    <div className="jp-RayDev-scheduled" data-testid="ray-scheduled">
      <h4 className="jp-RayDev-sectionTitle">
        {trans.__('Scheduled promotions')}
      </h4>
      {body}
    </div>
  );
}
