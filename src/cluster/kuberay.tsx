/**
 * The "KubeRay" part of the cluster section: this pod's RayCluster as the
 * Kubernetes API describes it (groups, images, volumes, service account).
 *
 * It is read once when the section opens and on "Refresh": the spec changes
 * when someone edits the YAML, not by the second as Ray's own status does.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type {
  ApiError,
  IKubernetesDiscovery,
  IRayClusterSummary,
  IRayVolume,
  RayDevAPI
} from '../api';
import { ScheduledPromotions, type ScheduledAPI } from './scheduled';

export interface IKubeRayDetailsProps {
  api: Pick<RayDevAPI, 'getKubernetes'> & ScheduledAPI;
  trans: TranslationBundle;
  /** Changing it reads the RayCluster again. */
  refreshKey?: number;
}

export function KubeRayDetails(props: IKubeRayDetailsProps): JSX.Element {
  const { api, trans, refreshKey } = props;
  const [answer, setAnswer] = React.useState<IKubernetesDiscovery | null>(null);
  const [error, setError] = React.useState<ApiError | null>(null);
  React.useEffect(() => {
    let current = true;
    api.getKubernetes().then(
      value => current && (setAnswer(value), setError(null)),
      (reason: ApiError) => current && setError(reason)
    );
    return () => {
      current = false;
    };
  }, [api, refreshKey]);

  let body: JSX.Element;
  if (error) {
    body = (
      <p className="jp-RayDev-kuberayError" role="alert">
        {error.message}
      </p>
    );
  } else if (!answer) {
    body = <p className="jp-RayDev-muted">{trans.__('Reading…')}</p>;
  } else if (!answer.raycluster) {
    body = <p className="jp-RayDev-muted">{answer.message}</p>;
  } else {
    body = <RayClusterFacts rc={answer.raycluster} trans={trans} />;
  }
  return (
    <section
      className="jp-RayDev-section jp-RayDev-kuberay"
      data-testid="ray-raycluster"
    >
      <h3 className="jp-RayDev-sectionTitle">{trans.__('RayCluster')}</h3>
      {body}
      {answer?.in_kubernetes ? (
        <ScheduledPromotions api={api} trans={trans} refreshKey={refreshKey} />
      ) : null}
    </section>
  );
}

function quantity(res: Record<string, string | number>): string {
  return Object.entries(res)
    .map(([key, value]) => `${key} ${value}`)
    .join(', ');
}

function RayClusterFacts(props: {
  rc: IRayClusterSummary;
  trans: TranslationBundle;
}): JSX.Element {
  const { rc, trans } = props;
  return (
    <dl className="jp-RayDev-facts" data-testid="ray-raycluster-facts">
      <dt>{trans.__('Name')}</dt>
      <dd>{rc.namespace ? `${rc.namespace}/${rc.name}` : rc.name}</dd>
      <dt>{trans.__('Ray')}</dt>
      <dd>{rc.ray_version ?? trans.__('unknown')}</dd>
      <dt>{trans.__('Head')}</dt>
      <dd title={rc.head.image ?? undefined}>
        {rc.head.image}
        <span className="jp-RayDev-muted">
          {' '}
          {quantity(rc.head.resources.requests)}
        </span>
      </dd>
      {rc.worker_groups.map(group => (
        <React.Fragment key={group.name ?? ''}>
          <dt>{trans.__('Workers %1', group.name ?? '')}</dt>
          <dd data-testid="ray-worker-group" title={group.image ?? undefined}>
            {trans.__(
              '%1 (min %2, max %3)',
              group.replicas ?? 0,
              group.min_replicas ?? 0,
              group.max_replicas ?? group.replicas ?? 0
            )}
            <span className="jp-RayDev-muted">
              {' '}
              {quantity(group.resources.requests)}
              {group.suspended ? ` · ${trans.__('suspended')}` : ''}
            </span>
          </dd>
        </React.Fragment>
      ))}
      <dt>{trans.__('Autoscaling')}</dt>
      <dd>
        {rc.autoscaling.enabled
          ? trans.__(
              'on (idle %1 s)',
              rc.autoscaling.idle_timeout_seconds ?? 60
            )
          : trans.__('off')}
      </dd>
      {rc.volumes.map(volume => (
        <React.Fragment key={`${volume.type}:${volume.name}`}>
          <dt>{trans.__('Volume')}</dt>
          <dd data-testid="ray-volume">{describeVolume(volume, trans)}</dd>
        </React.Fragment>
      ))}
      <dt>{trans.__('Service account')}</dt>
      <dd>{rc.service_account}</dd>
    </dl>
  );
}

/** "ray-dev-shared (efs-sc, 100Gi) at /mnt/shared on head, cpu" */
export function describeVolume(
  volume: IRayVolume,
  trans: TranslationBundle
): string {
  const source =
    volume.type === 'pvc'
      ? (volume.claim_name ?? volume.name)
      : volume.type === 'nfs'
        ? `nfs ${volume.server}:${volume.path}`
        : `${volume.type} ${volume.name}`;
  const pvc = volume.pvc
    ? ` (${[volume.pvc.storage_class, volume.pvc.capacity].filter(Boolean).join(', ')})`
    : '';
  const byPath = new Map<string, string[]>();
  for (const mount of volume.mounts) {
    const path = mount.mount_path ?? '?';
    byPath.set(path, [...(byPath.get(path) ?? []), mount.group]);
  }
  const where = [...byPath.entries()]
    .map(([path, groups]) => trans.__('%1 on %2', path, groups.join(', ')))
    .join('; ');
  return trans.__('%1 at %2', `${source}${pvc}`, where);
}
