/**
 * Shapes of the jupyter-ray-dev REST API, named and documented for the
 * frontend. `schema-check.ts` holds each against the types generated from
 * `jupyter_ray_dev/openapi.json` (the server's contract, checked by the
 * Python tests): tsc fails when they part.
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
  /**
   * The dashboard link for a browser tab: the dashboard through the Jupyter
   * server unless `c.RayDev.dashboard_url` names another address.
   */
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

/** `GET ray-dev/api/cluster/metrics`: whether the dashboard's Metrics page has Grafana. */
export interface IClusterMetrics {
  available: boolean;
  /** Where the Metrics page's panels load from (the browser must reach it). */
  grafana_host: string | null;
  /** Why there are no metrics and what to set, or where the panels load from. */
  message: string | null;
}

/** The JSON body of every error the server extension answers with. */
export interface IErrorBody {
  /** What went wrong and what to do about it, for a person. */
  message: string;
  /** A stable machine key, e.g. `ray_unreachable`. */
  reason: string;
  [detail: string]: unknown;
}

/** A Ray job's state; `null` when Ray no longer knows the job (history only). */
export type JobStatus =
  'PENDING' | 'RUNNING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';

/** What the driver process itself reserves on the cluster (entrypoint resources). */
export interface IJobResources {
  num_cpus?: number;
  num_gpus?: number;
  /** Bytes. */
  memory?: number;
  /** Custom resource name to amount. */
  custom?: Record<string, number>;
}

/** The validated launch request, as stored for a re-run. */
export interface IJobSettings {
  file: string;
  project: string | null;
  args: string[];
  resources: IJobResources;
  magics: 'comment' | 'error';
  /** A `%%ray_job` cell: a re-run writes it again (its temporary file is gone). */
  cell?: { code: string; name: string | null };
}

/** `GET ray-dev/api/jobs/{id}`: Ray's state joined with the launch history. */
export interface IJob {
  submission_id: string;
  job_id?: string | null;
  known_to_ray: boolean;
  status: JobStatus | null;
  message: string | null;
  error_type: string | null;
  error_summary: string | null;
  entrypoint: string | null;
  /** Seconds since the epoch. */
  start_time: number | null;
  end_time: number | null;
  /** Seconds, up to now while running. */
  duration: number | null;
  driver_exit_code?: number | null;
  metadata: Record<string, string>;
  launched_here: boolean;
  /** Project folder relative to the Jupyter root ('' = the root). */
  project: string | null;
  /** The launched file relative to the Jupyter root. */
  file: string | null;
  user: string | null;
  created: number | null;
  settings: IJobSettings | null;
  can_rerun: boolean;
}

/** `GET ray-dev/api/jobs`. */
export interface IJobList {
  jobs: IJob[];
}

/** `POST ray-dev/api/jobs`: run a .py or .ipynb as a Ray job. */
export interface IJobRequest {
  file: string;
  project?: string | null;
  /** A list, or one string split like a shell command line. */
  args?: string[] | string;
  resources?: IJobResources;
  magics?: 'comment' | 'error';
}

/** Something the server noticed while launching, e.g. a skipped `%magic`. */
export interface IJobWarning {
  kind: 'ipython_line_skipped' | 'history_not_saved';
  message: string;
  cell?: number;
  line?: number;
  source?: string;
}

/** The answer to a submit or re-run. */
export interface ISubmittedJob extends IJob {
  warnings: IJobWarning[];
}

/** Filters of `GET ray-dev/api/jobs`. */
export interface IJobFilters {
  status?: JobStatus[];
  project?: string | null;
}

/** One message of the live log WebSocket. */
export type LogStreamMessage =
  /** Consecutive log lines; `n` numbers the first (from 0). */
  | { type: 'lines'; n: number; lines: string[] }
  | {
      type: 'status' | 'end';
      status: JobStatus | null;
      message: string | null;
      error_type: string | null;
    }
  | { type: 'error'; code: number; message: string; reason: string };

// ---------------------------------------------------------------- storage

/** `GET ray-dev/api/storage/roots`: one configured storage root. */
export interface IStorageRoot {
  /** The URL segment the API uses. */
  name: string;
  /** Folder path, `s3://bucket/prefix` or `gs://bucket/prefix`. */
  url: string;
  protocol: 'file' | 's3' | 'gs';
  read_only: boolean;
  /** Names of the fsspec options set; their values are never returned. */
  option_names: string[];
}

export interface IStorageRoots {
  roots: IStorageRoot[];
}

/** One file or folder of a listing; `path` is relative to the root. */
export interface IStorageEntry {
  name: string;
  path: string;
  kind: 'file' | 'directory' | 'symlink';
  size: number | null;
  /** Unix epoch milliseconds; `null` for object-store folders. */
  modified: number | null;
  link?: 'inside_root' | 'outside_root' | 'broken';
  /** From the name alone (`checkpoint_*` folders). */
  ray_hint?: 'checkpoint';
}

/** A Ray Train checkpoint found in a trial or run folder. */
export interface IRayCheckpoint {
  name: string;
  path: string;
  modified: number | null;
  /** For `ray.train.Checkpoint(uri)`. */
  uri: string;
  metrics?: Record<string, unknown> | null;
  latest?: boolean;
}

export type RayFolderKind =
  'tune_experiment' | 'tune_trial' | 'train_run' | 'checkpoint';

/** What Ray Train/Tune made of a folder. */
export interface IRayFolder {
  kind: RayFolderKind;
  /** Trial: params.json. */
  params?: unknown;
  /** Trial: the last reported metrics. */
  last_metrics?: Record<string, unknown> | null;
  /** Newest first. */
  checkpoints?: IRayCheckpoint[];
  /** Checkpoint folder: its URI. */
  checkpoint?: string;
}

/** `GET ray-dev/api/storage/{root}/list`: one page of a folder. */
export interface IStorageListing {
  root: string;
  path: string;
  entries: IStorageEntry[];
  /** Pass as `cursor` for the next page; `null` on the last page. */
  next_cursor: string | null;
  /** First page only: the folder's Ray kind. */
  ray?: IRayFolder | null;
}

/** `GET .../stat` (and the answer of mkdir, rename and upload commit). */
export interface IStorageItem extends IStorageEntry {
  root: string;
  /** Absolute path or `s3://` / `gs://` URI, as Ray and pyarrow take it. */
  uri: string;
  ray?: IRayFolder | null;
}

export type StoragePreviewType =
  'text' | 'json' | 'csv' | 'parquet' | 'image' | 'notebook' | 'binary';

/** `GET .../preview`: a bounded preview of a file. */
export interface IStoragePreview {
  root: string;
  path: string;
  name: string;
  size: number;
  modified?: number | null;
  mime: string;
  uri: string;
  max_bytes: number;
  truncated: boolean;
  type: StoragePreviewType;
  text?: string;
  tail?: string;
  columns?: { name: string; type: string }[];
  rows?: unknown[][];
  num_rows?: number;
  num_row_groups?: number;
  data_url?: string | null;
  kernel?: string;
  language?: string;
  cells?: number;
  message?: string;
}

/** An upload session (`POST .../uploads`, `PUT .../uploads/{id}`). */
export interface IStorageUpload {
  upload_id: string;
  root: string;
  path: string;
  /** Bytes received so far: the next chunk starts here. */
  received: number;
  size: number | null;
  /** Suggested chunk size. */
  chunk_size: number;
  max_chunk_size: number;
}

/** `POST .../delete`. */
export interface IStorageDeleted {
  root: string;
  path: string;
  deleted: boolean;
}

// ------------------------------------------------------------ runtime_env

/** One error or warning about a runtime_env, naming its field. */
export interface IRuntimeEnvFinding {
  /** `pip.packages[2]`, `env_vars.API_TOKEN`, `env_vars["A.B"]`; '' for the whole env. */
  path: string;
  message: string;
  /** What to change, when the server knows. */
  fix?: string | null;
  /** YAML syntax errors: where. */
  line?: number | null;
  column?: number | null;
}

/** The verdict of `POST .../runtime-env/validate`: Ray's own when Ray is installed. */
export interface IRuntimeEnvVerdict {
  valid: boolean;
  errors: IRuntimeEnvFinding[];
  warnings: IRuntimeEnvFinding[];
  ray_checked?: boolean;
}

/** A project's runtime_env.yaml as the server reads it. */
export interface IRuntimeEnvFile {
  project: string;
  path: string;
  runtime_env: Record<string, unknown>;
  yaml: string;
  /** Send back when saving: a stale one is refused (409). */
  etag: string;
  exists: boolean;
  /** After a save: the saved environment's warnings. */
  warnings?: IRuntimeEnvFinding[];
}

/**
 * A package a notebook installed into its kernel (`%pip install`...) that
 * its project's runtime_env.yaml does not declare at that version.
 */
export interface INotebookInstall {
  /** What `dismissNotebookInstalls` takes. */
  id: string;
  name: string;
  /** The version installed. */
  version: string;
  /** `name==version`: what *Add to runtime_env.yaml* adds. */
  requirement: string;
  /** The project's requirement of it the version does not satisfy, if any. */
  declared: string | null;
  /** API path of the notebook. */
  notebook: string;
  /** API path of the notebook's project. */
  project: string;
  kernel_id: string;
  /** Whether the kernel that installed it still runs. */
  running: boolean;
  /** The cell's install command. */
  command: string;
  /** Where it came from when not an index (a file, a VCS URL). */
  url: string | null;
  /** Unix seconds. */
  installed: number;
}

/** `GET .../notebook-installs`: newest first. */
export interface INotebookInstalls {
  /** The project asked about; `null`: every project. */
  project: string | null;
  installs: INotebookInstall[];
}

/** What Ray would upload for the working_dir. */
export interface IWorkingDirSize {
  project: string;
  working_dir: string | null;
  /** false: on shared storage (local://) or a URI: nothing is uploaded. */
  uploaded: boolean;
  bytes: number | null;
  files: number | null;
  limit_bytes: number;
  over_limit: boolean;
  largest: { path: string; bytes: number }[];
  excludes: string[];
  message: string | null;
}

/** One event of an install onto shared storage. */
export interface IInstallEvent {
  type: 'start' | 'line' | 'progress' | 'done' | 'error';
  folder?: string;
  hash?: string;
  requirements?: string[];
  text?: string;
  phase?: string;
  collected?: number;
  total?: number;
  cached?: boolean;
  message?: string;
  exit_code?: number;
  runtime_env?: IRuntimeEnvFile;
}

export interface IInstallRequest {
  /** Default: the saved environment's pip packages. */
  requirements?: string[];
  /** A folder under one of the server's shared roots. */
  root?: string;
  /** Point the project's env at the installed folder (default true). */
  apply?: boolean;
}

// ------------------------------------------------------------ kubernetes

/** Requests and limits of one container, as Kubernetes quantities. */
export interface IContainerResources {
  requests: Record<string, string | number>;
  limits: Record<string, string | number>;
}

/** One worker group of a RayCluster. */
export interface IRayWorkerGroup {
  name: string | null;
  image: string | null;
  replicas: number | null;
  min_replicas: number | null;
  max_replicas: number | null;
  suspended: boolean;
  resources: IContainerResources;
}

/** A volume the Ray pods mount (NFS/EFS claims, NFS, CSI, ...); never secrets. */
export interface IRayVolume {
  name: string | null;
  type: string;
  claim_name?: string | null;
  server?: string | null;
  path?: string | null;
  pvc?: {
    storage_class: string | null;
    access_modes: string[];
    capacity: string | null;
    phase: string | null;
  } | null;
  mounts: {
    group: string;
    container: string | null;
    mount_path: string | null;
    read_only: boolean;
  }[];
}

/** This pod's RayCluster, as read from the Kubernetes API. */
export interface IRayClusterSummary {
  name: string;
  namespace: string | null;
  ray_version: string | null;
  service_account: string;
  head: { image: string | null; resources: IContainerResources };
  worker_groups: IRayWorkerGroup[];
  autoscaling: {
    enabled: boolean;
    upscaling_mode: string | null;
    idle_timeout_seconds: number | null;
  };
  volumes: IRayVolume[];
  /** The RayCluster's own `status`, as Kubernetes has it. */
  status: Record<string, unknown>;
}

/** `GET ray-dev/api/kubernetes`. */
export interface IKubernetesDiscovery {
  in_kubernetes: boolean;
  /** Why there is no RayCluster, in plain words. */
  message: string | null;
  raycluster: IRayClusterSummary | null;
}

/** Status of an applied RayJob / RayService / RayCluster / RayCronJob. */
export interface IKubeRayStatus {
  kind: string;
  name: string;
  namespace: string | null;
  job_deployment_status?: string | null;
  job_status?: string | null;
  service_status?: string | null;
  state?: string | null;
  dashboard_url?: string | null;
  message?: string | null;
  /** RayCronJob: its cron schedule, zone and whether it is suspended. */
  schedule?: string | null;
  time_zone?: string | null;
  suspend?: boolean | null;
  /** RayCronJob: when it last stamped a RayJob. */
  last_schedule_time?: string | null;
  /** RayCronJob: the RayJobs it stamped, newest run first. */
  jobs?: (IKubeRayStatus & {
    scheduled_for?: string | null;
    created?: string | null;
  })[];
}

/** `GET ray-dev/api/kubernetes/scheduled`: the RayCronJobs promote made. */
export interface IScheduledPromotions {
  namespace: string;
  cronjobs: (IKubeRayStatus & { project?: string | null })[];
  /** This server may suspend and resume them (patch raycronjobs). */
  can_suspend: boolean;
  /** When it may not: the message naming the Role rule to add. */
  missing_rule: string | null;
}

/** `POST .../raycronjobs/<name>/suspend`: the patch's result or what it would be. */
export interface ISuspendResult {
  dry_run: boolean;
  kind: 'RayCronJob';
  name: string;
  namespace: string;
  suspend: boolean;
  changed: boolean;
  diff: string;
  status: IKubeRayStatus;
}

/** `POST ray-dev/api/kubernetes/apply`. */
export interface IApplyResult {
  dry_run: boolean;
  kind: string;
  name: string;
  namespace: string;
  exists: boolean;
  changed: boolean;
  /** Unified YAML diff, on the cluster -> after apply; empty when nothing changes. */
  diff: string;
  result: Record<string, unknown>;
  status: IKubeRayStatus | null;
}

// ------------------------------------------------------------ promote

/** What a promotion may choose (`PromoteRequest` in openapi.json). */
export interface IPromoteRequest {
  /** The .py/.ipynb the image runs, relative to the Jupyter root. */
  entrypoint?: string | null;
  /** Full target image; default `<registry setting>/<project>:<inputs hash>`. */
  image?: string | null;
  base_image?: string | null;
  gpu?: boolean | null;
  push?: boolean;
  /** Default: c.RayDev.promote_builder, or the first builder that can run here. */
  builder?: 'buildah' | 'docker' | 'kaniko' | null;
  /** `rayjob` (default): a RayJob and a RayCluster; `rayservice`: the project's Serve app. */
  variant?: PromoteVariant;
  /** The Serve app as `module:app`; default: found in the project. */
  serve_app?: string | null;
  /** `raycronjob`: five cron fields. */
  schedule?: string | null;
  /** `raycronjob`: the IANA zone the schedule is read in (default: UTC). */
  time_zone?: string | null;
  /** `raycronjob`: create it suspended. */
  suspend?: boolean | null;
  /** Where pinned versions come from: `latest` (default), a run's id, or `server`. */
  source_run?: string | null;
}

/** One recorded run of a project (`RunSummary`): what promote can pin from. */
export interface IRunSummary {
  submission_id: string;
  project: string;
  file: string;
  created: number;
  started?: number | null;
  ended?: number | null;
  status: JobStatus | null;
  state: 'pending' | 'recorded' | 'partial' | 'missing' | 'not_recorded';
  state_message: string;
  /** Its installed versions are known. */
  usable: boolean;
  python_version?: string | null;
  ray_version?: string | null;
  distribution_count?: number;
  imported_count?: number;
  files_hash?: string | null;
}

/** Where one pin's version came from (`PinSource`). */
export interface IPinSource {
  kind: 'run' | 'server' | 'file';
  run_id: string | null;
  time: number | null;
  /** Whether the run imported it (null: not known). */
  imported?: boolean | null;
}

/** Something the review must show (`ReviewWarning`). */
export interface IReviewWarning {
  kind: string;
  message: string;
}

/** A CPU or memory number of a shape from Ray's view, and where it came from. */
export interface IShapeNumber {
  group: string;
  resource: 'cpu' | 'memory';
  value: string;
  basis: 'pod' | 'container' | 'ray_start' | 'machine' | 'unknown';
  /** False: a machine's total, left out of the manifests' resources. */
  used: boolean;
  from: string;
}

export type PromoteVariant = 'rayjob' | 'rayservice' | 'raycronjob';

/** A scheduled promotion's schedule and its next runs, for the review. */
export interface IScheduleReview {
  schedule: string;
  time_zone: string | null;
  suspend: boolean;
  /** The zone the times are in: time_zone, else UTC. */
  zone_shown: string;
  /** ISO 8601 with the zone's offset. */
  next_runs: string[];
}

/** Where a promoted run's logs go (KubeRay's History Server, or with the cluster). */
export interface ILogsReview {
  configured: boolean;
  uri?: string | null;
  collector_image?: string | null;
  message: string;
  /** c.RayDev.history_server is set but unusable. */
  error?: string;
}

/** A recorded promotion's RayCronJob schedule (null for the other variants). */
export interface IPromotionSchedule {
  schedule?: string;
  time_zone?: string | null;
  suspend?: boolean;
}

/** Where the project's Serve app was found, for the RayService variant. */
export interface IServeApp {
  /** `serve_app` (the request), `serve_config.yaml`, or the entrypoint script. */
  source: string;
  import_paths: string[];
  /** Per-app runtime_env fields the image replaces. */
  dropped: string[];
}

export interface IPromoteBuilder {
  name: string;
  available: boolean;
  reason: string;
}

/** Something the entrypoint's conversion noticed (as for jobs). */
export type IPromoteWarning = IJobWarning;

/** How a build makes the image (`BuildPath`): the builder, or the code layer on an
 * earlier pushed promotion's image (no builder), and why. */
export interface IBuildPath {
  path: 'full_build' | 'code_layer';
  reason: string;
  earlier: { id: string; image: string; digest: string } | null;
}

/** The review before anything is built (`PromotionPlan`). */
export interface IPromotionPlan {
  project: string;
  entrypoint: {
    source: string;
    script: string;
    converted: boolean;
    command: string;
    warnings: IPromoteWarning[];
  };
  requirements: {
    source: string;
    requirements: string[];
    changes: {
      name: string;
      spec: string;
      pinned: string | null;
      how: 'installed' | 'exact' | 'url' | 'local' | 'base_image';
      from: IPinSource;
      message: string;
    }[];
    unpinned: {
      spec: string;
      reason: string;
      name?: string;
      from?: IPinSource;
    }[];
    local_files: string[];
  };
  env_vars: {
    image: Record<string, string>;
    refused: { name: string; reason: string; hint: string }[];
    secret_name: string;
  };
  files: { count: number; bytes: number; excluded: string[] };
  runtime_env: Record<string, string>;
  base_image: string;
  image: string | null;
  push_possible: boolean;
  inputs_hash: string;
  dockerfile: string;
  /** YAML: the RayJob, then the RayCluster; or the RayService. */
  manifests: string;
  manifest_errors: Record<string, string[]>;
  variant: PromoteVariant;
  serve_app: IServeApp | null;
  /** Why the project's serve config cannot be read (the RayService variant would fail). */
  serve_app_error: string | null;
  builders: IPromoteBuilder[];
  /** Which path a build takes, and why (null where nothing is built). */
  build_path?: IBuildPath | null;
  ray_version: string;
  git_commit: string | null;
  /** Where the manifests' groups come from, and why not the other source. */
  shape_source: IPromoteShapeSource;
  /** The raycronjob variant's schedule and its next runs. */
  schedule: IScheduleReview | null;
  logs: ILogsReview;
  /** The tested environment the pins come from, and the runs to choose from. */
  source: {
    requested: string;
    kind: 'run' | 'server';
    run: IRunSummary | null;
    description: string;
    warnings: IReviewWarning[];
    runs: IRunSummary[];
  };
  /** sha256 of the requirements.txt the image installs. */
  lock_hash: string;
  /** Project files changed since the source run (null without one). */
  changed_files: {
    since: string;
    modified: string[];
    added: string[];
    removed: string[];
    counts: Record<string, number>;
    changed: boolean;
  } | null;
  /** Imported by the project's code in the run, declared nowhere: *Add* sends `requirement`. */
  undeclared: {
    name: string;
    version: string | null;
    modules: string[];
    requirement: string;
  }[];
  warnings: IReviewWarning[];
  /** The dev run the image reproduces (its label io.ray-dev.source-run). */
  source_run?: string | null;
  /** What the built image is checked against, and which builders check before the push. */
  parity?: {
    expected: {
      source: string;
      modules: string[];
      modules_source: string;
    } | null;
    before_push: string[];
  };
}

/** The dev RayCluster (through the Kubernetes API) or Ray's view of its nodes. */
export interface IPromoteShapeSource {
  source: 'raycluster' | 'ray';
  /** namespace/name of the RayCluster read; null for Ray's view. */
  raycluster: string | null;
  reason: string;
  /** Dev-only parts of the RayCluster left out (sidecars, ports, volumes, env). */
  dropped: string[];
  /** Ray's view only: each CPU/memory number, where it came from, whether it is used. */
  numbers: IShapeNumber[];
}

/**
 * `blocked`: built, held back by its parity check (Push anyway pushes it);
 * `interrupted`: the server stopped during the build (build again).
 */
export type PromotionStatus =
  | 'building'
  | 'pushed'
  | 'built'
  | 'blocked'
  | 'pushing'
  | 'failed'
  | 'interrupted'
  | 'exported'
  | 'uploaded';

/** One difference between the built image and the run it reproduces. */
export interface IParityMismatch {
  kind: 'python' | 'ray' | 'missing' | 'version' | 'import' | 'pip_check';
  name: string;
  image: string | null;
  expected: string | null;
  /** e.g. `numpy 2.1.3 in the image, 1.26.4 in the run` */
  message: string;
}

/** The parity check of a built image (`ParitySummary`). */
export interface IParitySummary {
  status: 'passed' | 'failed' | 'unavailable';
  source: string | null;
  /** Why the check could not run (unavailable). */
  reason?: string;
  /** Builders that can check an image before its push. */
  could_check?: string[];
  mismatches: IParityMismatch[];
  notes: string[];
  /** How many distributions the image has beyond those expected. */
  extras: number;
  seconds?: number;
  builder?: string;
}

/** A push the user made despite the parity check. */
export interface IPromotionOverride {
  what: 'parity';
  parity_status: string;
  mismatches: string[];
  reason: string | null;
  user: string | null;
  at: string;
}

/** Where a promotion's image came from (`PromotionProvenance`). */
export interface IPromotionProvenance {
  source_run: { id: string; time: number | null } | null;
  pins_from: string | null;
  lock: { sha256: string | null; requirements: string[] | null };
  parity: IParitySummary | null;
  overrides: IPromotionOverride[];
}

/** One entry of the promotion history (`Promotion`). */
export interface IPromotion {
  id: string;
  project: string;
  entrypoint: string;
  kind: 'build' | 'context' | 'runtime_env';
  status: PromotionStatus;
  inputs_hash: string;
  image: string | null;
  digest: string | null;
  builder: string | null;
  error: string | null;
  user: string | null;
  created: number;
  finished: number | null;
  /** A scheduled promotion's schedule (the history and the record have it). */
  schedule?: IPromotionSchedule | null;
  /** The run the pins came from (null: this server's Python). */
  source_run?: string | null;
  lock_hash?: string | null;
  /** When the source run started (epoch seconds). */
  source_run_time?: number | null;
  /** The source run, the lock, the parity check and the overrides, in one place. */
  provenance?: IPromotionProvenance;
  parity?: IParitySummary | null;
  overrides?: IPromotionOverride[] | null;
  /** How the image was made. */
  build_path?: IBuildPath | null;
}

export interface IPromotionDetail extends IPromotion {
  dockerfile: string;
  manifests: string;
  requirements: string;
  log: string;
  /** The manifests with the image on its pushed digest: what to download or re-apply. */
  manifests_pinned: string;
  /** The pinned requirements, each pin with where its version came from. */
  lock?: {
    requirements?: string[];
    hash?: string;
    source?: Record<string, unknown> | null;
    pins?: Record<string, unknown>[];
    unpinned?: Record<string, unknown>[];
  } | null;
}

/** One artifact's change between two promotions. */
export interface IPromotionArtifactDiff {
  /** `Dockerfile`, `requirements.txt`, or `Kind/name` of a manifest. */
  name: string;
  kind: 'dockerfile' | 'requirements' | 'lock' | 'manifest';
  /** Unified diff; empty when equal. */
  diff: string;
}

/** What changed from `from` to `to` (`PromotionDiff`). */
export interface IPromotionDiff {
  from: string;
  to: string;
  same_inputs: boolean;
  artifacts: IPromotionArtifactDiff[];
  dockerfile: string;
  requirements: string;
  /** All manifests as one text. */
  manifests: string;
  /** Unified diff of the locks (each pin with the run its version came from). */
  lock?: string;
  /** Packages whose pin changed (null: absent on that side). */
  lock_changes?: { name: string; from: string | null; to: string | null }[];
  source_runs?: { from?: string | null; to?: string | null };
  same_lock?: boolean;
}

/** Re-apply of a recorded promotion: the apply result and the promotion. */
export interface IReapplyResult extends IApplyResult {
  promotion_id: string;
}

/** A message of a build's log stream (`BuildStreamMessage`). */
export type BuildStreamMessage =
  | { type: 'line'; n: number; text: string }
  | { type: 'end'; promotion: IPromotion }
  | { type: 'error'; code: number; message: string; reason?: string };

/** The exported build context, ready to save. */
export interface IPromotionContext {
  blob: Blob;
  filename: string;
  promotionId: string | null;
}

/** The runtime_env path's result: the code zip's URI and a RayJob using it. */
export interface IPromotionPackage extends IPromotion {
  uri: string;
  uploaded: boolean;
  bytes: number;
  runtime_env: Record<string, unknown>;
  entrypoint_command: string;
  manifests: string;
  manifest_errors: string[];
  not_carried: { spec: string; reason: string }[];
  /** Says this path is less reproducible than the image. */
  reproducibility: string;
}

/** `POST ray-dev/api/jobs/<id>/logs/save`. */
export interface ISaveLogRequest {
  /** A storage URI (s3://..., gs://..., root:path); default: the artifacts root. */
  dest?: string | null;
  overwrite?: boolean;
}

/** Where a saved log went. */
export interface ISavedLog {
  submission_id: string;
  dest: string;
  root: string;
  path: string;
  bytes: number;
}
