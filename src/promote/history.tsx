/**
 * The Promotions history: every build, context export and storage package,
 * newest first. Select two to see what changed (a unified diff per artifact);
 * re-apply an entry's manifests (dry-run diff first) or download them.
 */
import { InputDialog, Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  errorMessage,
  type IPromotion,
  type IPromotionDetail,
  type IPromotionDiff,
  type RayDevAPI
} from '../api';
import { confirmApply, showServerError } from './apply';
import { UnifiedDiff } from './diffview';
import {
  comparePair,
  diffSummary,
  manifestsFilename,
  moveFocus,
  lockChangeLines,
  provenanceRows,
  reapplyBlocker,
  reapplyKinds,
  shortDigest,
  sourceRunLine,
  toggleSelection
} from './history-model';
import { saveBlob } from './progress';
import { scheduleLabel } from './model';
import { BuildPathRow, ViewWidget } from './parts';

/** Save a promotion's manifests, the image on its pushed digest. */
export async function downloadManifests(
  api: RayDevAPI,
  trans: TranslationBundle,
  promotionId: string
): Promise<void> {
  try {
    const detail = await api.getPromotion(promotionId);
    saveBlob(
      new Blob([detail.manifests_pinned], { type: 'application/yaml' }),
      manifestsFilename(detail)
    );
  } catch (reason) {
    Notification.error(
      trans.__('Could not download the manifests: %1', errorMessage(reason))
    );
  }
}

/**
 * Apply a recorded promotion again: choose the object when there are several,
 * a server-side dry run shows the diff, only the dialog's Apply changes the cluster.
 */
export async function reapply(
  api: RayDevAPI,
  trans: TranslationBundle,
  promotionId: string
): Promise<void> {
  let detail: IPromotionDetail;
  try {
    detail = await api.getPromotion(promotionId);
  } catch (reason) {
    await showServerError(trans.__('Re-apply failed'), reason);
    return;
  }
  const blocker = reapplyBlocker(detail, trans);
  const kinds = reapplyKinds(detail.manifests_pinned);
  if (blocker || kinds.length === 0) {
    Notification.warning(
      blocker ?? trans.__('This promotion has no KubeRay manifest to apply.')
    );
    return;
  }
  let kind = kinds[0];
  if (kinds.length > 1) {
    const chosen = await InputDialog.getItem({
      title: trans.__('Re-apply which object?'),
      items: kinds,
      current: 0
    });
    if (!chosen.button.accept || !chosen.value) {
      return;
    }
    kind = chosen.value;
  }
  let review;
  try {
    review = await api.reapplyPromotion(promotionId, { kind, dryRun: true });
  } catch (reason) {
    await showServerError(trans.__('Dry run failed'), reason);
    return;
  }
  const title = trans.__(
    'Re-apply %1/%2 from %3?',
    kind,
    review.name,
    promotionId
  );
  if (!(await confirmApply(title, review, trans))) {
    return;
  }
  try {
    const done = await api.reapplyPromotion(promotionId, {
      kind,
      dryRun: false
    });
    Notification.success(
      trans.__('Applied %1/%2 in %3.', done.kind, done.name, done.namespace),
      { autoClose: 5000 }
    );
  } catch (reason) {
    await showServerError(trans.__('Apply failed'), reason);
  }
}

export interface IPromotionsViewProps {
  api: RayDevAPI;
  trans: TranslationBundle;
  /** Show this project's promotions first (the filter can widen to all). */
  project: string | null;
}

type Pane =
  | { type: 'detail'; detail: IPromotionDetail }
  | { type: 'diff'; diff: IPromotionDiff }
  | null;

function PromotionsView(props: IPromotionsViewProps): JSX.Element {
  const { api, trans } = props;
  const [project, setProject] = React.useState(props.project);
  const [promotions, setPromotions] = React.useState<IPromotion[]>([]);
  const [error, setError] = React.useState<string | null>(null);
  const [loading, setLoading] = React.useState(true);
  const [selected, setSelected] = React.useState<string[]>([]);
  const [focus, setFocus] = React.useState(0);
  const [pane, setPane] = React.useState<Pane>(null);
  const rows = React.useRef<(HTMLLIElement | null)[]>([]);

  const load = React.useCallback(async (): Promise<void> => {
    setLoading(true);
    try {
      setPromotions(await api.listPromotions(project ?? undefined));
      setError(null);
    } catch (reason) {
      setError(errorMessage(reason));
    } finally {
      setLoading(false);
    }
  }, [project]);
  React.useEffect(() => void load(), [load]);

  const open = async (id: string): Promise<void> => {
    try {
      setPane({ type: 'detail', detail: await api.getPromotion(id) });
    } catch (reason) {
      setError(errorMessage(reason));
    }
  };
  const pair = comparePair(selected, promotions);
  const compare = async (): Promise<void> => {
    if (!pair) {
      return;
    }
    try {
      setPane({
        type: 'diff',
        diff: await api.diffPromotions(pair.newer.id, pair.older.id)
      });
    } catch (reason) {
      setError(errorMessage(reason));
    }
  };
  const onKey = (event: React.KeyboardEvent, index: number): void => {
    const promotion = promotions[index];
    const next = moveFocus(index, event.key, promotions.length);
    if (next !== null) {
      event.preventDefault();
      setFocus(next);
      rows.current[next]?.focus();
    } else if (event.key === ' ') {
      event.preventDefault();
      setSelected(current => toggleSelection(current, promotion.id));
    } else if (event.key === 'Enter') {
      event.preventDefault();
      void open(promotion.id);
    }
  };

  return (
    <div className="jp-RayDev-history" data-testid="ray-promotions">
      <div className="jp-RayDev-promoteActions">
        {props.project ? (
          <select
            className="jp-RayDev-applySelect"
            aria-label={trans.__('Which promotions')}
            data-testid="ray-promotions-filter"
            value={project ?? ''}
            onChange={event => setProject(event.target.value || null)}
          >
            <option value={props.project}>{props.project}</option>
            <option value="">{trans.__('All projects')}</option>
          </select>
        ) : null}
        <button className="jp-mod-styled" onClick={() => void load()}>
          {trans.__('Refresh')}
        </button>
        <button
          className="jp-mod-styled jp-mod-accept"
          data-testid="ray-promotions-compare"
          disabled={!pair}
          title={trans.__('Select two promotions (Space) to compare them')}
          onClick={() => void compare()}
        >
          {trans.__('Compare selected')}
        </button>
      </div>
      {error ? (
        <div className="jp-RayDev-promoteError" role="alert">
          {error}
        </div>
      ) : null}
      {!loading && promotions.length === 0 && !error ? (
        <p>{trans.__('No promotions yet: use "Promote to prod" first.')}</p>
      ) : null}
      <ul
        className="jp-RayDev-historyList"
        role="listbox"
        aria-multiselectable="true"
        aria-label={trans.__('Promotions')}
      >
        {promotions.map((p, i) => (
          <li
            key={p.id}
            ref={node => {
              rows.current[i] = node;
            }}
            role="option"
            aria-selected={selected.includes(p.id)}
            tabIndex={i === focus ? 0 : -1}
            className={`jp-RayDev-historyRow${selected.includes(p.id) ? ' jp-mod-selected' : ''}`}
            data-promotion-id={p.id}
            data-testid="ray-promotion-row"
            onKeyDown={event => onKey(event, i)}
            onFocus={() => setFocus(i)}
            onDoubleClick={() => void open(p.id)}
          >
            <input
              type="checkbox"
              tabIndex={-1}
              aria-label={trans.__('Select %1', p.id)}
              checked={selected.includes(p.id)}
              onChange={() =>
                setSelected(current => toggleSelection(current, p.id))
              }
            />
            <span
              className={`jp-RayDev-historyStatus jp-mod-${p.status}`}
              data-testid="ray-promotion-status"
              title={p.error ?? undefined}
            >
              {p.status}
            </span>
            <span className="jp-RayDev-historyKind">{p.kind}</span>
            <span className="jp-RayDev-historyProject">{p.project}</span>
            {p.schedule ? (
              <span
                className="jp-RayDev-historySchedule"
                data-testid="ray-promotion-schedule"
                title={trans.__('RayCronJob schedule')}
              >
                {scheduleLabel(p.schedule)}
                {p.schedule.suspend ? ` ${trans.__('(suspended)')}` : ''}
              </span>
            ) : null}
            <code className="jp-RayDev-historyImage" title={p.digest ?? ''}>
              {p.digest ? shortDigest(p.digest) : (p.image ?? '')}
            </code>
            <span className="jp-RayDev-historyTime">
              {new Date(p.created * 1000).toLocaleString()}
            </span>
            <button
              className="jp-mod-styled"
              tabIndex={-1}
              onClick={() => void open(p.id)}
            >
              {trans.__('Details')}
            </button>
          </li>
        ))}
      </ul>
      {pane?.type === 'detail' ? (
        <Detail api={api} trans={trans} detail={pane.detail} />
      ) : null}
      {pane?.type === 'diff' ? (
        <DiffPane diff={pane.diff} trans={trans} />
      ) : null}
    </div>
  );
}

function Detail(props: {
  api: RayDevAPI;
  trans: TranslationBundle;
  detail: IPromotionDetail;
}): JSX.Element {
  const { api, trans, detail } = props;
  const blocker = reapplyBlocker(detail, trans);
  return (
    <div className="jp-RayDev-historyPane" data-testid="ray-promotion-detail">
      <h3>
        {trans.__('%1: %2 of %3', detail.id, detail.kind, detail.entrypoint)}
      </h3>
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('Image')}</span>
        <code>{detail.image ?? '—'}</code>
      </div>
      {detail.digest ? (
        <div className="jp-RayDev-promoteRow">
          <span className="jp-RayDev-promoteLabel">{trans.__('Digest')}</span>
          <code>{detail.digest}</code>
        </div>
      ) : null}
      {detail.schedule ? (
        <div className="jp-RayDev-promoteRow">
          <span className="jp-RayDev-promoteLabel">{trans.__('Schedule')}</span>
          <code data-testid="ray-promotion-detail-schedule">
            {scheduleLabel(detail.schedule)}
          </code>
          {detail.schedule.suspend ? (
            <span>{trans.__('(suspended)')}</span>
          ) : null}
        </div>
      ) : null}
      {detail.build_path ? (
        <BuildPathRow
          path={detail.build_path}
          testId="ray-promotion-detail-build-path"
          trans={trans}
        />
      ) : null}
      {detail.error ? (
        <div className="jp-RayDev-promoteError">{detail.error}</div>
      ) : null}
      <div data-testid="ray-promotion-provenance">
        {provenanceRows(detail.provenance, trans).map((row, i) => (
          <div className="jp-RayDev-promoteRow" key={i}>
            <span className="jp-RayDev-promoteLabel">{row.label}</span>
            <span className={row.warn ? 'jp-RayDev-promoteWarning' : ''}>
              {row.value}
            </span>
          </div>
        ))}
      </div>
      <div className="jp-RayDev-promoteActions">
        <button
          className="jp-mod-styled jp-mod-accept"
          data-testid="ray-promotion-reapply"
          disabled={blocker !== null}
          title={
            blocker ?? trans.__('Dry run on the server, review the diff, apply')
          }
          onClick={() => void reapply(api, trans, detail.id)}
        >
          {trans.__('Re-apply…')}
        </button>
        <button
          className="jp-mod-styled"
          data-testid="ray-promotion-download"
          onClick={() => void downloadManifests(api, trans, detail.id)}
        >
          {trans.__('Download manifests')}
        </button>
      </div>
      <h4>{trans.__('Manifests')}</h4>
      <pre className="jp-RayDev-promoteCode">{detail.manifests_pinned}</pre>
      <h4>{trans.__('Dockerfile')}</h4>
      <pre className="jp-RayDev-promoteCode">{detail.dockerfile}</pre>
    </div>
  );
}

function DiffPane(props: {
  diff: IPromotionDiff;
  trans: TranslationBundle;
}): JSX.Element {
  const { diff, trans } = props;
  const summary = diffSummary(diff);
  return (
    <div className="jp-RayDev-historyPane" data-testid="ray-promotion-diff">
      <h3>{trans.__('From %1 to %2', diff.from, diff.to)}</h3>
      <p>
        {trans.__(
          '%1 of %2 artifacts changed; image inputs %3.',
          summary.changed,
          summary.total,
          diff.same_inputs ? trans.__('unchanged') : trans.__('changed')
        )}
      </p>
      {sourceRunLine(diff, trans) ? (
        <p data-testid="ray-promotion-source-runs">
          {sourceRunLine(diff, trans)}
        </p>
      ) : null}
      {lockChangeLines(diff, trans).length ? (
        <ul data-testid="ray-promotion-lock-changes">
          {lockChangeLines(diff, trans).map(line => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      ) : null}
      {diff.artifacts.map(artifact => (
        <section key={artifact.name}>
          <h4>{artifact.name}</h4>
          {artifact.diff ? (
            <UnifiedDiff diff={artifact.diff} />
          ) : (
            <p className="jp-RayDev-applyStats">{trans.__('Unchanged')}</p>
          )}
        </section>
      ))}
    </div>
  );
}

/** A main-area tab of the promotion history. */
export class PromotionsWidget extends ViewWidget<IPromotionsViewProps> {
  constructor(props: IPromotionsViewProps) {
    super(PromotionsView, props, 'jp-RayDev-historyWidget');
  }
}
