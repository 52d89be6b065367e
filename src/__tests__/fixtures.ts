import type {
  IClusterSummary,
  IPromotionPlan,
  IParityMismatch,
  IRayNode,
  IStorageRoot
} from '../api';
import serverReplies from './server-replies.json';

const GiB = 1024 ** 3;

/** A node as the server reports it; override what a test cares about. */
export function node(overrides: Partial<IRayNode> = {}): IRayNode {
  return {
    node_id: 'a'.repeat(56),
    node_ip: '10.0.0.1',
    hostname: 'worker-1',
    is_head: false,
    state: 'ALIVE',
    resources_total: { CPU: 4, memory: 16 * GiB, object_store_memory: 4 * GiB },
    resources_available: {
      CPU: 4,
      memory: 16 * GiB,
      object_store_memory: 4 * GiB
    },
    ...overrides
  };
}

/** The example from the API contract: one head with 2 CPUs and a GPU. */
export function cluster(
  overrides: Partial<IClusterSummary> = {}
): IClusterSummary {
  return {
    address: 'http://127.0.0.1:8265',
    dashboard_url: 'http://127.0.0.1:8265',
    ray_version: '2.60.0',
    python_version: '3.11.7',
    auth_mode: 'token',
    nodes: [
      node({
        node_id: '4f2a'.repeat(14),
        node_ip: '127.0.0.1',
        hostname: 'pod-xyz',
        is_head: true,
        resources_total: {
          CPU: 2,
          GPU: 1,
          memory: 8.5e9,
          object_store_memory: 2e9,
          my_custom: 4,
          'node:127.0.0.1': 1,
          'node:__internal_head__': 1
        },
        resources_available: {
          CPU: 1.5,
          memory: 8.5e9,
          object_store_memory: 2e9
        }
      })
    ],
    totals: {
      CPU: { total: 2, available: 1.5 },
      GPU: { total: 1, available: 0 },
      memory: { total: 8.5e9, available: 8.5e9 },
      object_store_memory: { total: 2e9, available: 2e9 },
      my_custom: { total: 4, available: 4 },
      'node:127.0.0.1': { total: 1, available: 1 }
    },
    alive_nodes: 1,
    dead_nodes: 0,
    kuberay: null,
    ...overrides
  };
}

/**
 * The 503 bodies the server sends while Ray or a storage endpoint is down,
 * as the real server words them (tests/test_ui_fixtures.py checks the file).
 */
export const UNREACHABLE_BODY = serverReplies.ray_unreachable;
export const STORAGE_UNREACHABLE_BODY = serverReplies.storage_unreachable;

/** One request a stubbed `fetch` saw. */
export interface IRecordedCall {
  url: string;
  method: string;
  body: string;
}

/**
 * A `fetch` that records every request into `calls` and answers with `respond`
 * (the client under test builds real Requests: only the network is stubbed).
 */
export function recordingFetch(
  calls: IRecordedCall[],
  respond: (call: IRecordedCall) => Response
): (input: RequestInfo | URL, init?: RequestInit) => Promise<Response> {
  return async (input, init) => {
    const request = input instanceof Request ? input : null;
    const call = {
      url: request ? request.url : String(input),
      method: (request ? request.method : init?.method) ?? 'GET',
      body: request ? await request.text() : String(init?.body ?? '')
    };
    calls.push(call);
    return respond(call);
  };
}

/** Two storage roots: a writable folder and a read-only S3 prefix. */
export const STORAGE_ROOTS: IStorageRoot[] = [
  {
    name: 'artifacts',
    url: '/data/artifacts',
    protocol: 'file',
    read_only: false,
    option_names: []
  },
  {
    name: 'lake',
    url: 's3://bucket/x',
    protocol: 's3',
    read_only: true,
    option_names: []
  }
];

/** A review of the shape the server returns (`PromotionPlan`). */
export function plan(overrides: Partial<IPromotionPlan> = {}): IPromotionPlan {
  return {
    project: 'team/proj',
    entrypoint: {
      source: 'team/proj/train.ipynb',
      script: 'train.py',
      converted: true,
      command: 'cd /home/ray/app && python train.py',
      warnings: [
        { kind: 'ipython_line_skipped', message: 'Cell 1: %pip skipped' }
      ]
    },
    requirements: {
      source: 'runtime_env.pip',
      requirements: ['pyyaml==6.0.2'],
      changes: [
        {
          name: 'pyyaml',
          spec: 'pyyaml>=5',
          pinned: 'pyyaml==6.0.2',
          how: 'installed',
          from: { kind: 'run', run_id: 'raysubmit_a', time: 1, imported: true },
          message: 'pinned to 6.0.2'
        },
        {
          name: 'x',
          spec: 'x==1',
          pinned: 'x==1',
          how: 'exact',
          from: { kind: 'run', run_id: 'raysubmit_a', time: 1, imported: null },
          message: ''
        }
      ],
      unpinned: [{ spec: 'nope>=1', reason: 'not installed' }],
      local_files: []
    },
    env_vars: {
      image: { MODE: 'prod' },
      refused: [
        {
          name: 'HF_TOKEN',
          reason: 'its name looks like a credential',
          hint: 'use a Secret'
        }
      ],
      secret_name: 'proj-secrets'
    },
    files: { count: 4, bytes: 100, excluded: ['checkpoints'] },
    runtime_env: {},
    base_image: 'rayproject/ray:2.60.0-py311',
    image: 'registry.example.com:5000/team/proj:abc',
    push_possible: true,
    inputs_hash: 'abc',
    dockerfile: 'FROM x\n',
    manifests: 'kind: RayJob\n',
    manifest_errors: {},
    variant: 'rayjob',
    serve_app: null,
    serve_app_error: null,
    builders: [
      { name: 'buildah', available: true, reason: 'ok' },
      { name: 'docker', available: false, reason: 'no engine' }
    ],
    ray_version: '2.60.0',
    git_commit: null,
    shape_source: {
      source: 'ray',
      raycluster: null,
      reason: 'Not running in a KubeRay pod (RAY_CLUSTER_NAME is not set).',
      dropped: [],
      numbers: []
    },
    source: {
      requested: 'latest',
      kind: 'server',
      run: null,
      description: "the dev cluster (this server's Python)",
      warnings: [],
      runs: []
    },
    lock_hash: 'f00d',
    changed_files: null,
    undeclared: [],
    warnings: [],
    schedule: null,
    logs: { configured: false, message: 'The logs go with the cluster.' },
    ...overrides
  };
}

/** What the parity check reports for a numpy the image has at another version. */
export const NUMPY_MISMATCH: IParityMismatch = {
  kind: 'version',
  name: 'numpy',
  image: '2.1.3',
  expected: '1.26.4',
  message: 'numpy 2.1.3 in the image, 1.26.4 in the run'
};
