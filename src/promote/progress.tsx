import { Clipboard, Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import {
  ApiError,
  type BuildStreamMessage,
  type IParitySummary,
  type IPromotion,
  type RayDevAPI
} from '../api';
import { ApplyToCluster } from './apply';
import {
  INITIAL_BUILD,
  kubectlApply,
  nameOf,
  pinnedReference,
  reduceBuild,
  resumeBuild,
  type IBuildState
} from './model';
import { ViewWidget } from './parts';

/** Save a blob as a download (the browser's own save flow). */
export function saveBlob(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

const RECONNECTS = 5;

/** "Download manifests" and "Copy kubectl apply" for a result's manifests. */
export function ManifestActions(props: {
  manifests: string;
  filename: string;
  trans: TranslationBundle;
}): JSX.Element {
  const { manifests, trans } = props;
  return (
    <div className="jp-RayDev-promoteActions">
      <button
        className="jp-mod-styled jp-mod-accept"
        onClick={() =>
          saveBlob(
            new Blob([manifests], { type: 'application/yaml' }),
            props.filename
          )
        }
      >
        {trans.__('Download manifests')}
      </button>
      <button
        className="jp-mod-styled"
        onClick={() => {
          Clipboard.copyToSystem(kubectlApply(manifests));
          Notification.success(trans.__('kubectl apply command copied.'), {
            autoClose: 3000
          });
        }}
      >
        {trans.__('Copy kubectl apply')}
      </button>
    </div>
  );
}

/**
 * The parity check of the built image: the verdict, each mismatch ("numpy 2.1.3
 * in the image, 1.26.4 in the run"), the notes, and why it could not run.
 */
export function ParityView(props: {
  parity: IParitySummary;
  trans: TranslationBundle;
}): JSX.Element {
  const { parity, trans } = props;
  const headline =
    parity.status === 'passed'
      ? trans.__(
          'Parity check passed: the image matches %1.',
          parity.source ?? ''
        )
      : parity.status === 'failed'
        ? trans.__(
            'Parity check failed: the image differs from %1.',
            parity.source ?? ''
          )
        : trans.__('Parity check could not run: %1', parity.reason ?? '');
  return (
    <div
      className={`jp-RayDev-promoteParity jp-mod-${parity.status}`}
      data-testid="ray-promote-parity"
      role={parity.status === 'passed' ? 'status' : 'alert'}
    >
      <div>{headline}</div>
      {parity.mismatches.length ? (
        <ul
          className="jp-RayDev-promoteList"
          data-testid="ray-promote-mismatches"
        >
          {parity.mismatches.map((item, i) => (
            <li key={i} className="jp-RayDev-promoteDiff-unpinned">
              {item.message}
            </li>
          ))}
        </ul>
      ) : null}
      {parity.notes.length ? (
        <ul className="jp-RayDev-promoteList">
          {parity.notes.map((note, i) => (
            <li key={i}>{note}</li>
          ))}
        </ul>
      ) : null}
      {parity.extras ? (
        <div>
          {trans.__(
            '%1 more distributions in the image (informational).',
            parity.extras
          )}
        </div>
      ) : null}
    </div>
  );
}

interface IBuildProgressProps {
  api: RayDevAPI;
  promotion: IPromotion;
  manifests: string;
  trans: TranslationBundle;
  /** Open the promotion history (shown once the build ends). */
  onHistory?: () => void;
}

function BuildProgress(props: IBuildProgressProps): JSX.Element {
  const { api, promotion, trans } = props;
  const [state, setState] = React.useState<IBuildState>(INITIAL_BUILD);
  // bumped by "Push anyway": the same promotion's log goes on, followed again
  const [round, setRound] = React.useState(0);
  const [pushing, setPushing] = React.useState(false);
  const stateRef = React.useRef(state);
  stateRef.current = state;
  const logRef = React.useRef<HTMLPreElement>(null);

  React.useEffect(() => {
    let socket: WebSocket | null = null;
    let stopped = false;
    let attempts = 0;
    const open = (): void => {
      socket = api.connectPromotionLog(promotion.id, stateRef.current.next);
      socket.onmessage = event => {
        const message = JSON.parse(String(event.data)) as BuildStreamMessage;
        setState(current => reduceBuild(current, message));
      };
      socket.onclose = () => {
        const current = stateRef.current;
        // a dropped socket is not the end of the build: resume after the last line
        if (
          !stopped &&
          !current.result &&
          !current.error &&
          attempts < RECONNECTS
        ) {
          attempts += 1;
          setTimeout(open, 1000 * attempts);
        }
      };
    };
    open();
    return () => {
      stopped = true;
      socket?.close();
    };
  }, [promotion.id, round]);

  const pushAnyway = async (): Promise<void> => {
    setPushing(true);
    try {
      await api.pushPromotion(promotion.id, true);
      setState(current => resumeBuild(current));
      setRound(current => current + 1);
    } catch (reason) {
      Notification.error(
        reason instanceof ApiError ? reason.message : String(reason)
      );
    } finally {
      setPushing(false);
    }
  };

  React.useEffect(() => {
    const node = logRef.current;
    if (node) {
      node.scrollTop = node.scrollHeight;
    }
  }, [state.lines.length]);

  const result = state.result;
  const image = result?.image ?? promotion.image ?? '';
  // the manifests name the image by its digest once pushed: exactly what was built
  const reference = pinnedReference(image, result?.digest ?? null);
  const manifests = props.manifests.split(image).join(reference);
  const status = result
    ? result.status === 'failed'
      ? trans.__('Failed: %1', result.error ?? '')
      : result.status === 'blocked'
        ? // the server's reason opens with its own "Not pushed:", which the prefix says
          trans.__(
            'Built, not pushed: %1',
            (result.error ?? '').replace(/^Not pushed: /, '')
          )
        : trans.__('Done: %1', result.status)
    : (state.error ?? state.step ?? trans.__('Starting…'));
  return (
    <div
      className="jp-RayDev-promoteProgress"
      data-testid="ray-promote-progress"
    >
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('Image')}</span>
        <code>{image}</code>
      </div>
      <div
        className={`jp-RayDev-promoteStatus${result?.status === 'failed' || result?.status === 'blocked' ? ' jp-mod-error' : ''}`}
        data-testid="ray-promote-status"
      >
        {status}
      </div>
      {result?.parity ? (
        <ParityView parity={result.parity} trans={trans} />
      ) : null}
      {result?.status === 'blocked' ? (
        <div className="jp-RayDev-promoteActions">
          <button
            className="jp-mod-styled jp-mod-warn"
            data-testid="ray-promote-push-anyway"
            disabled={pushing}
            title={trans.__(
              'Push the image although it does not match: the history records the override'
            )}
            onClick={() => void pushAnyway()}
          >
            {trans.__('Push anyway')}
          </button>
        </div>
      ) : null}
      {result?.overrides?.length ? (
        <div className="jp-RayDev-promoteWarning" role="note">
          {trans.__(
            'Pushed anyway by %1: the override is recorded in the history.',
            result.overrides[result.overrides.length - 1].user ?? '—'
          )}
        </div>
      ) : null}
      {/* a held-back code-layer image is in the registry by digest, untagged: no
          reference to deploy until it is pushed */}
      {result?.digest && result.status !== 'blocked' ? (
        <div className="jp-RayDev-promoteRow">
          <span className="jp-RayDev-promoteLabel">{trans.__('Digest')}</span>
          <code data-testid="ray-promote-digest">{result.digest}</code>
        </div>
      ) : null}
      {result && result.status !== 'failed' && result.status !== 'blocked' ? (
        <ManifestActions
          manifests={manifests}
          filename={`${nameOf(promotion.project) || 'project'}-manifests.yaml`}
          trans={trans}
        />
      ) : null}
      {result && result.status !== 'failed' && result.status !== 'blocked' ? (
        <ApplyToCluster api={api} manifests={manifests} trans={trans} />
      ) : null}
      {result && props.onHistory ? (
        <div className="jp-RayDev-promoteActions">
          <button
            className="jp-mod-styled"
            data-testid="ray-promote-history"
            onClick={props.onHistory}
          >
            {trans.__('Promotion history')}
          </button>
        </div>
      ) : null}
      <pre
        ref={logRef}
        className="jp-RayDev-promoteLog"
        data-testid="ray-promote-log"
      >
        {state.lines.join('\n')}
      </pre>
    </div>
  );
}

/** A main-area tab following one build to its result. */
export class BuildProgressWidget extends ViewWidget<IBuildProgressProps> {
  constructor(props: IBuildProgressProps) {
    super(BuildProgress, props, 'jp-RayDev-promoteProgressWidget');
  }
}
