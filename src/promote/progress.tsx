import { Clipboard, Notification } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { BuildStreamMessage, IPromotion, RayDevAPI } from '../api';
import { ApplyToCluster } from './apply';
import {
  INITIAL_BUILD,
  kubectlApply,
  nameOf,
  pinnedReference,
  reduceBuild,
  type IBuildState
} from './model';

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
  }, [promotion.id]);

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
        className={`jp-RayDev-promoteStatus${result?.status === 'failed' ? ' jp-mod-error' : ''}`}
        data-testid="ray-promote-status"
      >
        {status}
      </div>
      {result?.digest ? (
        <div className="jp-RayDev-promoteRow">
          <span className="jp-RayDev-promoteLabel">{trans.__('Digest')}</span>
          <code data-testid="ray-promote-digest">{result.digest}</code>
        </div>
      ) : null}
      {result && result.status !== 'failed' ? (
        <ManifestActions
          manifests={manifests}
          filename={`${nameOf(promotion.project) || 'project'}-manifests.yaml`}
          trans={trans}
        />
      ) : null}
      {result && result.status !== 'failed' ? (
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
export class BuildProgressWidget extends ReactWidget {
  constructor(private _options: IBuildProgressProps) {
    super();
    this.addClass('jp-RayDev-promoteProgressWidget');
  }

  render(): JSX.Element {
    return <BuildProgress {...this._options} />;
  }
}
