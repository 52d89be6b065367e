/**
 * The RayCluster part of the cluster section, rendered in jsdom with the API
 * client stubbed (tests/test_k8s_api.py covers the server against a real
 * kube-apiserver).
 */
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import {
  ApiError,
  type IKubernetesDiscovery,
  type IRayClusterSummary,
  type RayDevAPI
} from '../api';
import { describeVolume } from '../cluster/kuberay';
import { ClusterPanel } from '../cluster/panel';
import { cluster } from './fixtures';
import { waitFor } from './wait';

const trans = nullTranslator.load('jupyter_ray_dev');

const RAYCLUSTER: IRayClusterSummary = {
  name: 'ray-dev',
  namespace: 'team-a',
  ray_version: '2.60.0',
  service_account: 'ray-dev',
  head: {
    image: 'ghcr.io/example/ray-dev-head:2.60.0-py311',
    resources: { requests: { cpu: '2', memory: '8Gi' }, limits: {} }
  },
  worker_groups: [
    {
      name: 'cpu',
      image: 'ghcr.io/example/ray-dev-head:2.60.0-py311',
      replicas: 1,
      min_replicas: 0,
      max_replicas: 4,
      suspended: false,
      resources: { requests: { cpu: '4' }, limits: {} }
    }
  ],
  autoscaling: {
    enabled: true,
    upscaling_mode: 'Default',
    idle_timeout_seconds: 300
  },
  volumes: [
    {
      name: 'shared',
      type: 'pvc',
      claim_name: 'ray-dev-shared',
      pvc: {
        storage_class: 'efs-sc',
        access_modes: ['ReadWriteMany'],
        capacity: '100Gi',
        phase: null
      },
      mounts: [
        {
          group: 'head',
          container: 'ray-head',
          mount_path: '/mnt/shared',
          read_only: false
        },
        {
          group: 'cpu',
          container: 'ray-worker',
          mount_path: '/mnt/shared',
          read_only: false
        }
      ]
    }
  ],
  status: { state: 'ready' }
};

describe('KubeRayDetails in the cluster panel', () => {
  let panel: ClusterPanel | undefined;

  afterEach(() => {
    panel?.dispose();
  });

  function open(
    getKubernetes: () => Promise<IKubernetesDiscovery>
  ): ClusterPanel {
    const api = {
      getCluster: () => Promise.resolve(cluster()),
      getKubernetes,
      listScheduledPromotions: () =>
        Promise.resolve({
          namespace: 'team-a',
          cronjobs: [],
          can_suspend: true,
          missing_rule: null
        })
    } as unknown as RayDevAPI;
    panel = new ClusterPanel({ api, translator: nullTranslator });
    Widget.attach(panel, document.body);
    return panel;
  }

  function section(): HTMLElement {
    return panel!.node.querySelector('[data-testid="ray-raycluster"]')!;
  }

  it('shows the RayCluster: groups, autoscaling, volumes, service account', async () => {
    open(() =>
      Promise.resolve({
        in_kubernetes: true,
        message: null,
        raycluster: RAYCLUSTER
      })
    );
    await waitFor(
      () => !!panel!.node.querySelector('[data-testid="ray-raycluster-facts"]')
    );
    const text = section().textContent!;
    expect(text).toContain('team-a/ray-dev');
    expect(text).toContain('ghcr.io/example/ray-dev-head:2.60.0-py311');
    expect(
      section().querySelector('[data-testid="ray-worker-group"]')!.textContent
    ).toBe('1 (min 0, max 4) cpu 4');
    expect(text).toContain('on (idle 300 s)');
    expect(
      section().querySelector('[data-testid="ray-volume"]')!.textContent
    ).toBe('ray-dev-shared (efs-sc, 100Gi) at /mnt/shared on head, cpu');
  });

  it('says plainly when the server is not in Kubernetes', async () => {
    open(() =>
      Promise.resolve({
        in_kubernetes: false,
        message:
          'Not running in Kubernetes: no in-cluster service account and no kubeconfig.',
        raycluster: null
      })
    );
    await waitFor(
      () =>
        section()?.textContent?.includes('Not running in Kubernetes') ?? false
    );
  });

  it('shows an RBAC refusal with the rule to add', async () => {
    const message =
      'Kubernetes refused: service account "ray-dev" may not get rayclusters.ray.io';
    open(() =>
      Promise.reject(
        new ApiError({ status: 403, reason: 'kubernetes_forbidden', message })
      )
    );
    await waitFor(() => !!section()?.querySelector('[role="alert"]'));
    expect(section().querySelector('[role="alert"]')!.textContent).toBe(
      message
    );
  });
});

describe('describeVolume', () => {
  it('names an NFS export and each mount path', () => {
    expect(
      describeVolume(
        {
          name: 'data',
          type: 'nfs',
          server: '10.0.0.2',
          path: '/exports',
          mounts: [
            {
              group: 'head',
              container: null,
              mount_path: '/data',
              read_only: true
            }
          ]
        },
        trans
      )
    ).toBe('nfs 10.0.0.2:/exports at /data on head');
  });
});
