import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import { ApiError, type IPromotionPlan, type RayDevAPI } from '../api';
import { buildBlocker, differencesFromDev } from './model';

export interface IPromoteReviewProps {
  api: RayDevAPI;
  project: string;
  candidates: string[];
  initialEntrypoint: string | null;
  initialPlan: IPromotionPlan | null;
  initialError: string | null;
  trans: TranslationBundle;
  /** Told the plan on screen (the dialog's buttons act on it). */
  onPlan: (plan: IPromotionPlan | null, entrypoint: string | null) => void;
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
  const [entrypoint, setEntrypoint] = React.useState(props.initialEntrypoint);
  const [plan, setPlan] = React.useState(props.initialPlan);
  const [error, setError] = React.useState(props.initialError);
  const [loading, setLoading] = React.useState(false);

  const choose = async (next: string): Promise<void> => {
    setEntrypoint(next);
    setLoading(true);
    try {
      const fresh = await api.planPromotion(project, { entrypoint: next });
      setPlan(fresh);
      setError(null);
      props.onPlan(fresh, next);
    } catch (reason) {
      setPlan(null);
      setError(reason instanceof ApiError ? reason.message : String(reason));
      props.onPlan(null, next);
    } finally {
      setLoading(false);
    }
  };

  const blocker = plan ? buildBlocker(plan) : null;
  return (
    <div className="jp-RayDev-promote" data-testid="ray-promote-review">
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('Entrypoint')}</span>
        {props.candidates.length > 1 ? (
          <select
            className="jp-mod-styled"
            data-testid="ray-promote-entrypoint"
            value={entrypoint ?? ''}
            disabled={loading}
            onChange={event => void choose(event.currentTarget.value)}
          >
            {entrypoint ? null : (
              <option value="">{trans.__('Choose…')}</option>
            )}
            {props.candidates.map(path => (
              <option key={path} value={path}>
                {path}
              </option>
            ))}
          </select>
        ) : (
          <code data-testid="ray-promote-entrypoint">{entrypoint ?? '—'}</code>
        )}
      </div>
      {error ? (
        <div className="jp-RayDev-promoteError" role="alert">
          {error}
        </div>
      ) : null}
      {loading ? <div>{trans.__('Preparing the review…')}</div> : null}
      {plan ? <PlanView plan={plan} trans={trans} blocker={blocker} /> : null}
    </div>
  );
}

function PlanView(props: {
  plan: IPromotionPlan;
  trans: TranslationBundle;
  blocker: string | null;
}): JSX.Element {
  const { plan, trans, blocker } = props;
  const differences = differencesFromDev(plan);
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
      {blocker ? (
        <div
          className="jp-RayDev-promoteError"
          role="alert"
          data-testid="ray-promote-blocker"
        >
          {blocker}
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
      <h3>{trans.__('KubeRay manifests (RayJob, RayCluster)')}</h3>
      <ReadOnly testid="ray-promote-manifests" text={plan.manifests} />
    </>
  );
}
