/**
 * Shapes of the jupyter-ray-dev REST API responses.
 *
 * They mirror `jupyter_ray_dev/openapi.json` (the server's contract, checked by
 * the Python tests); keep both in step when an endpoint changes.
 */

/** Resource name to amount: CPU, GPU, custom resources; memory in bytes. */
export type Resources = Record<string, number>;

/** Lifecycle state of a Ray node as reported by the dashboard. */
export type NodeState = 'ALIVE' | 'DEAD' | 'UNKNOWN';

/** One node of the Ray cluster. */
export interface IRayNode {
  node_id: string;
  node_ip: string | null;
  hostname: string | null;
  is_head: boolean;
  state: NodeState;
  resources_total: Resources;
  /** `null` for dead nodes and for nodes Ray has not reported usage for yet. */
  resources_available: Resources | null;
}

/** A cluster-wide amount of one resource, summed over alive nodes. */
export interface IResourceTotal {
  total: number;
  available: number;
}

/** Where the server runs when it runs on a KubeRay head pod. */
export interface IKubeRayInfo {
  cluster_name: string;
  namespace?: string | null;
  pod_name?: string | null;
}

/** `GET ray-dev/api/cluster`: the Ray cluster the Jupyter server is attached to. */
export interface IClusterSummary {
  /** The Ray dashboard address the server talks to. */
  address: string;
  /** The dashboard link for the browser (may differ from `address`). */
  dashboard_url: string;
  ray_version: string | null;
  python_version?: string | null;
  session_name?: string | null;
  auth_mode: 'token' | 'none';
  nodes: IRayNode[];
  totals: Record<string, IResourceTotal>;
  alive_nodes: number;
  dead_nodes: number;
  kuberay: IKubeRayInfo | null;
}

/** The JSON body of every error the server extension answers with. */
export interface IErrorBody {
  /** What went wrong and what to do about it, for a person. */
  message: string;
  /** A stable machine key, e.g. `ray_unreachable`. */
  reason: string;
  [detail: string]: unknown;
}
