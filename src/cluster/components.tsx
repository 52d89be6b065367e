/**
 * React view of the cluster section. Stateless: everything comes from
 * `IClusterState`, so the same props always render the same markup.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { launchIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { ApiError, IClusterSummary, IRayNode } from '../api';
import { rayIcon } from '../icons';
import { splitCode } from './format';
import {
  clusterResources,
  nodeResources,
  sortNodes,
  type IResourceUsage
} from './model';
import type { IClusterState } from './monitor';

/** Props of the cluster section. */
export interface IClusterViewProps {
  state: IClusterState;
  trans: TranslationBundle;
  /** Ask for an immediate refresh (the error box's "Retry now"). */
  onRetry: () => void;
  /**
   * Open the dashboard in a Lab tab; without it (or with a modifier key or
   * the middle button) the link opens a browser tab.
   */
  onOpenDashboard?: () => void;
}

export function ClusterView(props: IClusterViewProps): JSX.Element {
  const { state, trans } = props;
  let body: JSX.Element;
  if (state.error) {
    body = (
      <ErrorBox error={state.error} trans={trans} onRetry={props.onRetry} />
    );
  } else if (state.cluster) {
    body = (
      <ClusterDetails
        cluster={state.cluster}
        trans={trans}
        onOpenDashboard={props.onOpenDashboard}
      />
    );
  } else {
    body = (
      <div className="jp-RayDev-loading" data-testid="ray-loading">
        {trans.__('Connecting to Ray…')}
      </div>
    );
  }
  return (
    <div
      className="jp-RayDev-cluster"
      data-testid="ray-cluster"
      aria-busy={state.loading}
    >
      {body}
      {state.updated && (
        <div className="jp-RayDev-updated" data-testid="ray-updated">
          {trans.__('Last checked %1', state.updated.toLocaleTimeString())}
        </div>
      )}
    </div>
  );
}

function ErrorBox(props: {
  error: ApiError;
  trans: TranslationBundle;
  onRetry: () => void;
}): JSX.Element {
  const { error, trans } = props;
  return (
    <div className="jp-RayDev-error" role="alert" data-testid="ray-error">
      <p className="jp-RayDev-errorMessage">
        {splitCode(error.message).map((part, index) =>
          part.code ? (
            <code key={index}>{part.text}</code>
          ) : (
            <React.Fragment key={index}>{part.text}</React.Fragment>
          )
        )}
      </p>
      <RetryFooter
        trans={trans}
        onRetry={props.onRetry}
        buttonClass="jp-RayDev-retry"
        buttonTestId="ray-retry"
      />
    </div>
  );
}

/**
 * The foot of a section's error box: the section polls again by itself, and
 * the button asks now.
 */
export function RetryFooter(props: {
  trans: TranslationBundle;
  onRetry: () => void;
  /** An extra class for the button. */
  buttonClass?: string;
  buttonTestId?: string;
}): JSX.Element {
  const { trans, buttonClass } = props;
  return (
    <div className="jp-RayDev-errorFooter">
      <span className="jp-RayDev-errorHint">
        {trans.__('Retrying automatically.')}
      </span>
      <button
        type="button"
        className={
          'jp-Button jp-mod-styled jp-mod-reject' +
          (buttonClass ? ` ${buttonClass}` : '')
        }
        data-testid={props.buttonTestId}
        onClick={props.onRetry}
      >
        {trans.__('Retry now')}
      </button>
    </div>
  );
}

function ClusterDetails(props: {
  cluster: IClusterSummary;
  trans: TranslationBundle;
  onOpenDashboard?: () => void;
}): JSX.Element {
  const { cluster, trans, onOpenDashboard } = props;
  return (
    <>
      <ClusterHeader cluster={cluster} trans={trans} />
      <ResourceList cluster={cluster} trans={trans} />
      <NodeList cluster={cluster} trans={trans} />
      <div className="jp-RayDev-dashboardLinks">
        <a
          className="jp-RayDev-dashboardLink"
          data-testid="ray-dashboard-link"
          href={cluster.dashboard_url}
          target="_blank"
          rel="noopener noreferrer"
          title={
            onOpenDashboard
              ? trans.__(
                  'Open in a Lab tab (Ctrl/Cmd-click or middle-click: a browser tab)'
                )
              : cluster.dashboard_url
          }
          onClick={event => {
            if (!onOpenDashboard || opensBrowserTab(event)) {
              return; // the browser follows the link
            }
            event.preventDefault();
            onOpenDashboard();
          }}
        >
          <rayIcon.react tag="span" className="jp-RayDev-linkIcon" />
          {trans.__('Open Ray dashboard')}
        </a>
        {onOpenDashboard && (
          <a
            className="jp-RayDev-dashboardLink jp-mod-secondary"
            data-testid="ray-dashboard-browser"
            href={cluster.dashboard_url}
            target="_blank"
            rel="noopener noreferrer"
            title={trans.__('Open the Ray dashboard in a browser tab')}
            aria-label={trans.__('Open the Ray dashboard in a browser tab')}
          >
            <launchIcon.react tag="span" className="jp-RayDev-linkIcon" />
          </a>
        )}
      </div>
    </>
  );
}

/** A click the browser itself should turn into a new tab or window. */
export function opensBrowserTab(event: {
  ctrlKey: boolean;
  metaKey: boolean;
  shiftKey: boolean;
  button: number;
}): boolean {
  return event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0;
}

function ClusterHeader(props: {
  cluster: IClusterSummary;
  trans: TranslationBundle;
}): JSX.Element {
  const { cluster, trans } = props;
  const unknown = trans.__('unknown');
  const { kuberay } = cluster;
  return (
    <dl className="jp-RayDev-facts" data-testid="ray-cluster-facts">
      <dt>{trans.__('Ray')}</dt>
      <dd data-testid="ray-version">{cluster.ray_version ?? unknown}</dd>
      <dt>{trans.__('Python')}</dt>
      <dd data-testid="ray-python-version">
        {cluster.python_version ?? unknown}
      </dd>
      <dt>{trans.__('KubeRay')}</dt>
      {kuberay ? (
        <dd data-testid="ray-kuberay" title={kuberay.pod_name ?? undefined}>
          {kuberay.namespace
            ? `${kuberay.namespace}/${kuberay.cluster_name}`
            : kuberay.cluster_name}
          {kuberay.pod_name && (
            <span className="jp-RayDev-muted"> · {kuberay.pod_name}</span>
          )}
        </dd>
      ) : (
        <dd data-testid="ray-kuberay" className="jp-RayDev-muted">
          {trans.__('Not running in KubeRay')}
        </dd>
      )}
      <dt>{trans.__('Address')}</dt>
      <dd data-testid="ray-address" title={cluster.address}>
        {cluster.address}
      </dd>
      <dt>{trans.__('Auth')}</dt>
      <dd data-testid="ray-auth-mode">
        {cluster.auth_mode === 'token' ? trans.__('token') : trans.__('none')}
      </dd>
    </dl>
  );
}

/** Display names of Ray's well-known resources; custom ones show as named. */
function resourceLabel(name: string, trans: TranslationBundle): string {
  switch (name) {
    case 'CPU':
      return trans.__('CPU');
    case 'GPU':
      return trans.__('GPU');
    case 'memory':
      return trans.__('Memory');
    case 'object_store_memory':
      return trans.__('Object store');
    default:
      return name;
  }
}

function ResourceList(props: {
  cluster: IClusterSummary;
  trans: TranslationBundle;
}): JSX.Element {
  const { trans } = props;
  const resources = clusterResources(props.cluster.totals);
  // A generated id, not a fixed one: ids must stay unique if the view is shown twice.
  const headingId = React.useId();
  return (
    <section className="jp-RayDev-section" aria-labelledby={headingId}>
      <h3 id={headingId} className="jp-RayDev-sectionTitle">
        {trans.__('Resources')}
      </h3>
      {resources.length === 0 ? (
        <p className="jp-RayDev-muted">{trans.__('No alive nodes.')}</p>
      ) : (
        <ul className="jp-RayDev-resources">
          {resources.map(usage => (
            <ResourceBar key={usage.name} usage={usage} trans={trans} />
          ))}
        </ul>
      )}
    </section>
  );
}

function ResourceBar(props: {
  usage: IResourceUsage;
  trans: TranslationBundle;
}): JSX.Element {
  const { usage, trans } = props;
  const label = resourceLabel(usage.name, trans);
  const percent = Math.round(usage.percent);
  return (
    <li
      className="jp-RayDev-resource"
      data-testid={`ray-resource-${usage.name}`}
      data-resource={usage.name}
    >
      <div className="jp-RayDev-resourceHeader">
        <span className="jp-RayDev-resourceName" title={usage.name}>
          {label}
        </span>
        <Amount usage={usage} />
      </div>
      <div
        className="jp-RayDev-bar"
        role="progressbar"
        aria-label={trans.__('%1 used', label)}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
        aria-valuetext={`${percent}%`}
      >
        <div
          className={`jp-RayDev-barFill${percent >= 90 ? ' jp-mod-full' : ''}`}
          style={{ width: `${usage.percent}%` }}
        />
      </div>
    </li>
  );
}

/** "used / total unit", with each figure in its own element for tests and styling. */
function Amount(props: {
  usage: IResourceUsage;
  known?: boolean;
}): JSX.Element {
  const { usage, known = true } = props;
  return (
    <span className="jp-RayDev-amount">
      {known && (
        <>
          <span className="jp-RayDev-used">{usage.usedText}</span>
          {' / '}
        </>
      )}
      <span className="jp-RayDev-total">{usage.totalText}</span>
      {usage.unit && <span className="jp-RayDev-unit"> {usage.unit}</span>}
    </span>
  );
}

function NodeList(props: {
  cluster: IClusterSummary;
  trans: TranslationBundle;
}): JSX.Element {
  const { cluster, trans } = props;
  const nodes = sortNodes(cluster.nodes);
  const headingId = React.useId();
  return (
    <section className="jp-RayDev-section" aria-labelledby={headingId}>
      <h3 id={headingId} className="jp-RayDev-sectionTitle">
        {trans.__('Nodes')}
        <span
          className="jp-RayDev-count"
          data-testid="ray-node-count"
          data-alive={cluster.alive_nodes}
          data-dead={cluster.dead_nodes}
        >
          {cluster.dead_nodes > 0
            ? trans.__(
                '%1 alive, %2 dead',
                cluster.alive_nodes,
                cluster.dead_nodes
              )
            : trans.__('%1 alive', cluster.alive_nodes)}
        </span>
      </h3>
      <ul className="jp-RayDev-nodes">
        {nodes.map(node => (
          <NodeRow key={node.node_id} node={node} trans={trans} />
        ))}
      </ul>
    </section>
  );
}

function NodeRow(props: {
  node: IRayNode;
  trans: TranslationBundle;
}): JSX.Element {
  const { node, trans } = props;
  const alive = node.state === 'ALIVE';
  const stateClass = `jp-RayDev-state jp-mod-${node.state.toLowerCase()}`;
  return (
    <li
      className={`jp-RayDev-node${alive ? '' : ' jp-mod-inactive'}`}
      data-testid="ray-node"
      data-node-id={node.node_id}
      data-state={node.state}
      title={trans.__('Node ID: %1', node.node_id)}
    >
      <div className="jp-RayDev-nodeHeader">
        {node.is_head && (
          <span className="jp-RayDev-badge" data-testid="ray-head-badge">
            {trans.__('head')}
          </span>
        )}
        <span className="jp-RayDev-nodeAddress">
          {node.node_ip ?? node.node_id.slice(0, 8)}
        </span>
        {node.hostname && node.hostname !== node.node_ip && (
          <span className="jp-RayDev-nodeHost jp-RayDev-muted">
            {node.hostname}
          </span>
        )}
        <span className={stateClass}>{stateLabel(node.state, trans)}</span>
      </div>
      <div className="jp-RayDev-nodeResources">
        {nodeResources(node).map(usage => (
          <span key={usage.name} className="jp-RayDev-nodeResource">
            <span className="jp-RayDev-muted">
              {resourceLabel(usage.name, trans)}
            </span>{' '}
            <Amount usage={usage} known={usage.known} />
          </span>
        ))}
      </div>
    </li>
  );
}

function stateLabel(state: string, trans: TranslationBundle): string {
  switch (state) {
    case 'ALIVE':
      return trans.__('alive');
    case 'DEAD':
      return trans.__('dead');
    default:
      return trans.__('unknown');
  }
}
