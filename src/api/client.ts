import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import {
  type ITranslator,
  nullTranslator,
  type TranslationBundle
} from '@jupyterlab/translation';

import { ApiError, BAD_RESPONSE } from './errors';
import type {
  IApplyResult,
  IClusterMetrics,
  IClusterSummary,
  IInstallEvent,
  IInstallRequest,
  INotebookInstalls,
  IRuntimeEnvFile,
  IRuntimeEnvVerdict,
  IWorkingDirSize,
  IPromoteRequest,
  IPromotion,
  IPromotionContext,
  IPromotionDetail,
  IPromotionDiff,
  IReapplyResult,
  ISavedLog,
  IScheduledPromotions,
  ISuspendResult,
  IPromotionPackage,
  IPromotionPlan,
  IJob,
  IJobFilters,
  IJobList,
  IJobRequest,
  IKubeRayStatus,
  IKubernetesDiscovery,
  IStorageDeleted,
  IStorageItem,
  IStorageListing,
  IStoragePreview,
  IStorageRoot,
  IStorageRoots,
  IStorageUpload,
  ISubmittedJob
} from './types';

/**
 * Root of the extension's routes, relative to the Jupyter server's base URL.
 * This module is the only place in the frontend that knows URLs: panels call
 * methods, never paths.
 */
const API_ROOT = 'ray-dev/api';

/** The Ray dashboard through the Jupyter server, which adds the Ray token. */
const DASHBOARD_ROOT = 'ray-dev/dashboard';

/** Pages of Ray's dashboard UI (its `#/` routes), for `RayDevAPI.dashboardUrl`. */
export const DashboardPages = {
  overview: '',
  metrics: 'metrics',
  job: (submissionId: string): string =>
    `jobs/${encodeURIComponent(submissionId)}`
};

/**
 * Typed client of the jupyter-ray-dev server extension.
 *
 * Each endpoint is one small method over `request`, so later endpoints
 * (storage, jobs, runtime environments) slot in without touching callers.
 */
export class RayDevAPI {
  constructor(options: RayDevAPI.IOptions = {}) {
    this.serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
    this._trans = (options.translator ?? nullTranslator).load(
      'jupyter_ray_dev'
    );
  }

  /** Base URL, token, XSRF cookie handling and the `fetch` used for requests. */
  readonly serverSettings: ServerConnection.ISettings;

  private readonly _trans: TranslationBundle;

  /** The Ray cluster the server is attached to; rejects with `ApiError`. */
  getCluster(): Promise<IClusterSummary> {
    return this.request<IClusterSummary>('cluster');
  }

  /** Whether the dashboard's Metrics page has a Grafana to show, or why not. */
  getClusterMetrics(): Promise<IClusterMetrics> {
    return this.request<IClusterMetrics>('cluster/metrics');
  }

  /**
   * The Ray dashboard through the Jupyter server, at one of its pages
   * (`jobs/<submission id>`, `metrics`; none for the overview). The page
   * loads with the browser's Jupyter credentials; the server adds Ray's token.
   */
  dashboardUrl(page = ''): string {
    const settings = this.serverSettings;
    const query: Record<string, string> = {};
    if (settings.appendToken && settings.token) {
      query.token = settings.token; // as for WebSockets: where cookies are not usable
    }
    const base =
      URLExt.join(settings.baseUrl, DASHBOARD_ROOT) +
      '/' +
      URLExt.objectToQueryString(query);
    return page ? `${base}#/${page.replace(/^\/+/, '')}` : base;
  }

  /** This pod's RayCluster from the Kubernetes API, or why there is none. */
  getKubernetes(): Promise<IKubernetesDiscovery> {
    return this.request<IKubernetesDiscovery>('kubernetes');
  }

  /**
   * Create or update a RayJob/RayService/RayCluster. `dryRun` (the default)
   * validates on the server and returns the diff without storing anything.
   */
  applyManifest(
    manifest: Record<string, unknown>,
    options: { dryRun?: boolean; force?: boolean } = {}
  ): Promise<IApplyResult> {
    return this.post<IApplyResult>('kubernetes/apply', {
      manifest,
      dry_run: options.dryRun ?? true,
      force: options.force ?? false
    });
  }

  /** Status of an applied KubeRay object (RayJob: deployment and job status). */
  getKubeRayStatus(
    kind: string,
    name: string,
    namespace?: string
  ): Promise<IKubeRayStatus> {
    const query: Record<string, string> = namespace ? { namespace } : {};
    return this.request<IKubeRayStatus>(
      `kubernetes/status/${encodeURIComponent(kind)}/${encodeURIComponent(name)}`,
      {},
      query
    );
  }

  /** The RayCronJobs promote made (a project's, when given), and whether they may be suspended. */
  listScheduledPromotions(project?: string): Promise<IScheduledPromotions> {
    const query: Record<string, string> = project ? { project } : {};
    return this.request<IScheduledPromotions>(
      'kubernetes/scheduled',
      {},
      query
    );
  }

  /**
   * Suspend (`suspend` true) or resume a RayCronJob. `dryRun` (the default)
   * returns the diff without changing anything.
   */
  suspendRayCronJob(
    name: string,
    suspend: boolean,
    options: { dryRun?: boolean; namespace?: string } = {}
  ): Promise<ISuspendResult> {
    const query: Record<string, string> = options.namespace
      ? { namespace: options.namespace }
      : {};
    return this.request<ISuspendResult>(
      `kubernetes/raycronjobs/${encodeURIComponent(name)}/suspend`,
      {
        method: 'POST',
        body: JSON.stringify({ suspend, dry_run: options.dryRun ?? true })
      },
      query
    );
  }

  /** Every job on the Ray cluster, newest first, optionally filtered. */
  async listJobs(filters: IJobFilters = {}): Promise<IJob[]> {
    const query: Record<string, string> = {};
    if (filters.status && filters.status.length) {
      query.status = filters.status.join(',');
    }
    if (filters.project !== undefined && filters.project !== null) {
      query.project = filters.project;
    }
    const list = await this.request<IJobList>('jobs', {}, query);
    return list.jobs;
  }

  /** One job: Ray's state joined with the launch history. */
  getJob(jobId: string): Promise<IJob> {
    return this.request<IJob>(jobPath(jobId));
  }

  /** Run a `.py` or `.ipynb` file as a Ray job. */
  submitJob(request: IJobRequest): Promise<ISubmittedJob> {
    return this.post<ISubmittedJob>('jobs', request);
  }

  /** Ask Ray to stop a job; resolves with the job after the request. */
  stopJob(jobId: string): Promise<IJob> {
    return this.request<IJob>(`${jobPath(jobId)}/stop`, { method: 'POST' });
  }

  /** Delete a finished job from Ray and from the history (409 while running). */
  deleteJob(jobId: string): Promise<void> {
    return this.request<void>(jobPath(jobId), { method: 'DELETE' });
  }

  /** Launch a job again with the settings it was launched with. */
  rerunJob(jobId: string): Promise<ISubmittedJob> {
    return this.request<ISubmittedJob>(`${jobPath(jobId)}/rerun`, {
      method: 'POST'
    });
  }

  /** The job's full log (driver stdout and stderr) as text. */
  getJobLogs(jobId: string): Promise<string> {
    return this.request<string>(`${jobPath(jobId)}/logs`, {}, {}, 'text');
  }

  /**
   * Copy a finished job's log into a storage root (`dest`: a storage URI;
   * default the artifacts root), byte for byte; `overwrite` replaces a file
   * already there (else the server answers 409 with `field: "overwrite"`).
   */
  saveJobLog(
    jobId: string,
    dest?: string | null,
    overwrite = false
  ): Promise<ISavedLog> {
    return this.post<ISavedLog>(`${jobPath(jobId)}/logs/save`, {
      ...(dest ? { dest } : {}),
      ...(overwrite ? { overwrite } : {})
    });
  }

  /**
   * The WebSocket URL of a job's live log, starting at line `from`.
   *
   * Built like JupyterLab's own kernel and terminal sockets: from `wsUrl`,
   * with the token appended when the settings say so (browsers cannot set
   * headers on a WebSocket; cookies are sent as usual).
   */
  jobLogStreamUrl(jobId: string, from = 0): string {
    const settings = this.serverSettings;
    const query: Record<string, string> = {};
    if (from > 0) {
      query.from = String(from);
    }
    if (settings.appendToken && settings.token) {
      query.token = settings.token;
    }
    return (
      URLExt.join(settings.wsUrl, API_ROOT, `${jobPath(jobId)}/logs/stream`) +
      URLExt.objectToQueryString(query)
    );
  }

  /** Open a job's live log socket; messages follow `LogStreamMessage`. */
  connectJobLogs(jobId: string, from = 0): WebSocket {
    return new this.serverSettings.WebSocket(this.jobLogStreamUrl(jobId, from));
  }

  // ------------------------------------------------------------ storage
  // Paths inside a root travel in the query or a JSON body, never in the URL
  // path (the server checks them; no proxy normalises them first).

  /** The configured storage roots. */
  async listStorageRoots(): Promise<IStorageRoot[]> {
    const answer = await this.request<IStorageRoots>('storage/roots');
    return answer.roots;
  }

  /** One page of a folder; pass the previous page's `next_cursor` for the next. */
  listStorage(
    root: string,
    path = '',
    options: { limit?: number; cursor?: string | null } = {}
  ): Promise<IStorageListing> {
    const query: Record<string, string> = { path };
    if (options.limit !== undefined) {
      query.limit = String(options.limit);
    }
    if (options.cursor) {
      query.cursor = options.cursor;
    }
    return this.request<IStorageListing>(storagePath(root, 'list'), {}, query);
  }

  /** One file or folder (with its Ray Train/Tune summary for folders). */
  statStorage(root: string, path = ''): Promise<IStorageItem> {
    return this.request<IStorageItem>(storagePath(root, 'stat'), {}, { path });
  }

  /** A bounded preview of a file (text, JSON, table, image, notebook). */
  previewStorage(
    root: string,
    path: string,
    maxBytes?: number
  ): Promise<IStoragePreview> {
    const query: Record<string, string> = { path };
    if (maxBytes !== undefined) {
      query.max_bytes = String(maxBytes);
    }
    return this.request<IStoragePreview>(
      storagePath(root, 'preview'),
      {},
      query
    );
  }

  /**
   * The URL that downloads a file (an attachment, Range supported), for an
   * `<a download>` link: the token is appended when the settings say so, as
   * browsers send no headers on a plain link.
   */
  storageDownloadUrl(root: string, path: string): string {
    const query: Record<string, string> = { path };
    const settings = this.serverSettings;
    if (settings.appendToken && settings.token) {
      query.token = settings.token;
    }
    return (
      this.url(storagePath(root, 'download')) +
      URLExt.objectToQueryString(query)
    );
  }

  /** Open a chunked upload of `path` (its folder must exist). */
  startStorageUpload(
    root: string,
    path: string,
    options: { size?: number | null; overwrite?: boolean } = {}
  ): Promise<IStorageUpload> {
    return this.post<IStorageUpload>(storagePath(root, 'uploads'), {
      path,
      size: options.size ?? null,
      overwrite: options.overwrite ?? false
    });
  }

  /** Send the chunk that starts at byte `start` of a file of `total` bytes. */
  sendStorageChunk(
    root: string,
    uploadId: string,
    chunk: Blob,
    start: number,
    total: number,
    signal?: AbortSignal
  ): Promise<IStorageUpload> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream'
    };
    if (chunk.size > 0) {
      headers['Content-Range'] =
        `bytes ${start}-${start + chunk.size - 1}/${total}`;
    }
    return this.request<IStorageUpload>(uploadPath(root, uploadId), {
      method: 'PUT',
      body: chunk,
      headers,
      signal
    });
  }

  /** Finish an upload: the file appears atomically. */
  commitStorageUpload(root: string, uploadId: string): Promise<IStorageItem> {
    return this.request<IStorageItem>(`${uploadPath(root, uploadId)}/commit`, {
      method: 'POST'
    });
  }

  /** Cancel an upload: nothing is left behind. */
  abortStorageUpload(root: string, uploadId: string): Promise<void> {
    return this.request<void>(uploadPath(root, uploadId), {
      method: 'DELETE'
    });
  }

  /** Create a folder. */
  makeStorageFolder(root: string, path: string): Promise<IStorageItem> {
    return this.post<IStorageItem>(storagePath(root, 'mkdir'), { path });
  }

  /** Rename or move an item inside its root. */
  renameStorage(
    root: string,
    path: string,
    newPath: string
  ): Promise<IStorageItem> {
    return this.post<IStorageItem>(storagePath(root, 'rename'), {
      path,
      new_path: newPath
    });
  }

  /** Delete a file, or a folder (`recursive` for a folder that is not empty). */
  deleteStorage(
    root: string,
    path: string,
    recursive = false
  ): Promise<IStorageDeleted> {
    return this.post<IStorageDeleted>(storagePath(root, 'delete'), {
      path,
      recursive
    });
  }

  // ------------------------------------------------------------ runtime_env
  // A project is a folder relative to the Jupyter root ('' is the root).

  /** The project's runtime_env.yaml: as JSON, as text, and its ETag. */
  getRuntimeEnv(project: string): Promise<IRuntimeEnvFile> {
    return this.request<IRuntimeEnvFile>(projectPath(project, 'runtime-env'));
  }

  /**
   * Save the environment, validated by the server first (400 naming the
   * field). `etag` is the one read: 409 if the file changed since.
   */
  saveRuntimeEnv(
    project: string,
    content: { yaml: string } | { runtime_env: Record<string, unknown> },
    etag?: string | null
  ): Promise<IRuntimeEnvFile> {
    const headers: Record<string, string> = {};
    if (etag) {
      headers['If-Match'] = etag;
    }
    return this.request<IRuntimeEnvFile>(projectPath(project, 'runtime-env'), {
      method: 'PUT',
      body: JSON.stringify(content),
      headers
    });
  }

  /** Errors and warnings of an environment (nothing is saved). */
  validateRuntimeEnv(
    project: string,
    content: { yaml: string } | { runtime_env: Record<string, unknown> },
    signal?: AbortSignal
  ): Promise<IRuntimeEnvVerdict> {
    return this.request<IRuntimeEnvVerdict>(
      projectPath(project, 'runtime-env/validate'),
      { method: 'POST', body: JSON.stringify(content), signal }
    );
  }

  /**
   * Add requirements (e.g. `tiny-pkg==0.1`) to the project's pip (or uv)
   * list, replacing ones of the same package; comments kept, validated.
   */
  addRuntimeEnvPackages(
    project: string,
    requirements: string[],
    etag?: string | null
  ): Promise<IRuntimeEnvFile> {
    const headers: Record<string, string> = {};
    if (etag) {
      headers['If-Match'] = etag;
    }
    return this.request<IRuntimeEnvFile>(
      projectPath(project, 'runtime-env/packages'),
      { method: 'POST', body: JSON.stringify({ requirements }), headers }
    );
  }

  /**
   * Packages notebooks installed into their kernels (`%pip install`...) that
   * their project's runtime_env.yaml does not declare: one project's, or
   * (no project) every project's.
   */
  getNotebookInstalls(project?: string): Promise<INotebookInstalls> {
    return this.request<INotebookInstalls>(
      project === undefined
        ? 'notebook-installs'
        : projectPath(project, 'notebook-installs')
    );
  }

  /** Hide installs (by id) from those lists. */
  async dismissNotebookInstalls(ids: string[]): Promise<void> {
    await this.post<unknown>('notebook-installs/dismiss', { ids });
  }

  /** What Ray would upload for the saved environment's working_dir. */
  getWorkingDirSize(project: string): Promise<IWorkingDirSize> {
    return this.request<IWorkingDirSize>(
      projectPath(project, 'working-dir-size')
    );
  }

  /**
   * Install packages once onto shared storage, calling `onEvent` for each
   * server-sent event (pip's lines, progress). Resolves with the last event
   * (`done` or `error`); aborting `signal` stops pip on the server.
   */
  async installRuntimeEnv(
    project: string,
    request: IInstallRequest,
    onEvent: (event: IInstallEvent) => void,
    signal?: AbortSignal
  ): Promise<IInstallEvent | null> {
    const url = this.url(projectPath(project, 'install'));
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        { method: 'POST', body: JSON.stringify(request), signal },
        this.serverSettings
      );
    } catch (error) {
      throw ApiError.fromNetworkError(error, this._trans);
    }
    if (!response.ok) {
      throw await ApiError.fromResponse(response, this._trans);
    }
    let last: IInstallEvent | null = null;
    const parser = new EventStreamParser(event => {
      last = event;
      onEvent(event);
    });
    if (!response.body) {
      parser.push(await response.text());
    } else {
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          break;
        }
        parser.push(decoder.decode(value, { stream: true }));
      }
    }
    parser.end();
    return last;
  }

  // ------------------------------------------------------------ promote

  /** The review of a promotion: what would be built, before anything is. */
  planPromotion(
    project: string,
    request: IPromoteRequest = {}
  ): Promise<IPromotionPlan> {
    return this.post<IPromotionPlan>(promotePath(project, 'plan'), request);
  }

  /** Start building (and pushing) the image; follow it with `connectPromotionLog`. */
  buildPromotion(
    project: string,
    request: IPromoteRequest = {}
  ): Promise<IPromotion> {
    return this.post<IPromotion>(promotePath(project, 'build'), request);
  }

  /** The build context as a .tar.gz, for an external CI. */
  async exportPromotionContext(
    project: string,
    request: IPromoteRequest = {}
  ): Promise<IPromotionContext> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        this.url(promotePath(project, 'context')),
        { method: 'POST', body: JSON.stringify(request) },
        this.serverSettings
      );
    } catch (error) {
      throw ApiError.fromNetworkError(error, this._trans);
    }
    if (!response.ok) {
      throw await ApiError.fromResponse(response, this._trans);
    }
    const disposition = response.headers.get('Content-Disposition') ?? '';
    const match = /filename="([^"]+)"/.exec(disposition);
    return {
      blob: await response.blob(),
      filename: match ? match[1] : 'context.tar.gz',
      promotionId: response.headers.get('X-Ray-Dev-Promotion')
    };
  }

  /**
   * The runtime_env path (less reproducible than the image): upload the code zip
   * to the s3/gs storage root `storageRoot`; a RayJob whose runtimeEnvYAML uses it.
   */
  packagePromotion(
    project: string,
    storageRoot: string,
    request: IPromoteRequest = {}
  ): Promise<IPromotionPackage> {
    return this.post<IPromotionPackage>(promotePath(project, 'package'), {
      ...request,
      storage_root: storageRoot
    });
  }

  /**
   * Push a built image its parity check held back: `override` is the user's
   * "Push anyway" (the history records it). Follow it with `connectPromotionLog`.
   */
  pushPromotion(promotionId: string, override: boolean): Promise<IPromotion> {
    return this.post<IPromotion>(
      `promotions/${encodeURIComponent(promotionId)}/push`,
      { override }
    );
  }

  /** The promotion history, newest first. */
  async listPromotions(project?: string): Promise<IPromotion[]> {
    const query: Record<string, string> = project ? { project } : {};
    const answer = await this.request<{ promotions: IPromotion[] }>(
      'promotions',
      {},
      query
    );
    return answer.promotions;
  }

  /** One promotion with its Dockerfile, manifests and build log. */
  getPromotion(promotionId: string): Promise<IPromotionDetail> {
    return this.request<IPromotionDetail>(
      `promotions/${encodeURIComponent(promotionId)}`
    );
  }

  /** What changed from promotion `older` to `newer`: a unified diff per artifact. */
  diffPromotions(newer: string, older: string): Promise<IPromotionDiff> {
    return this.request<IPromotionDiff>(
      `promotions/${encodeURIComponent(newer)}/diff`,
      {},
      { other: older }
    );
  }

  /**
   * Apply a recorded promotion's manifest again (its image on the pushed digest);
   * `dryRun` (the default) only shows the diff against the cluster.
   */
  reapplyPromotion(
    promotionId: string,
    options: { kind?: string; dryRun?: boolean; force?: boolean } = {}
  ): Promise<IReapplyResult> {
    const body: Record<string, unknown> = {
      dry_run: options.dryRun ?? true,
      force: options.force ?? false
    };
    if (options.kind) {
      body.kind = options.kind;
    }
    return this.post<IReapplyResult>(
      `promotions/${encodeURIComponent(promotionId)}/apply`,
      body
    );
  }

  /** The WebSocket URL of a build's log (like `jobLogStreamUrl`). */
  promotionLogUrl(promotionId: string, from = 0): string {
    const settings = this.serverSettings;
    const query: Record<string, string> = {};
    if (from > 0) {
      query.from = String(from);
    }
    if (settings.appendToken && settings.token) {
      query.token = settings.token;
    }
    return (
      URLExt.join(
        settings.wsUrl,
        API_ROOT,
        `promotions/${encodeURIComponent(promotionId)}/stream`
      ) + URLExt.objectToQueryString(query)
    );
  }

  /** Open a build's log socket; messages follow `BuildStreamMessage`. */
  connectPromotionLog(promotionId: string, from = 0): WebSocket {
    return new this.serverSettings.WebSocket(
      this.promotionLogUrl(promotionId, from)
    );
  }

  /** The URL of an API route, e.g. `url('cluster')`. */
  url(...path: string[]): string {
    return URLExt.join(this.serverSettings.baseUrl, API_ROOT, ...path);
  }

  /** POST `body` as JSON to an API route and decode its JSON answer. */
  protected post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>(path, {
      method: 'POST',
      body: JSON.stringify(body)
    });
  }

  /**
   * Send a request to an API route and decode its JSON answer.
   *
   * `ServerConnection.makeRequest` adds the token and XSRF headers, so writes
   * added later only need `init.method` and `init.body`.
   */
  protected async request<T>(
    path: string,
    init: RequestInit = {},
    query: Record<string, string> = {},
    as: 'json' | 'text' = 'json'
  ): Promise<T> {
    const url = this.url(path) + URLExt.objectToQueryString(query);
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        init,
        this.serverSettings
      );
    } catch (error) {
      throw ApiError.fromNetworkError(error, this._trans);
    }
    if (!response.ok) {
      throw await ApiError.fromResponse(response, this._trans);
    }
    if (response.status === 204) {
      return undefined as T;
    }
    const text = await response.text();
    if (as === 'text') {
      return text as T;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError({
        status: response.status,
        reason: BAD_RESPONSE,
        message: this._trans.__(
          'The Jupyter server answered %1 with something that is not JSON. A proxy in front of Jupyter may be rewriting the response.',
          url
        )
      });
    }
  }
}

/** A job's route, its id escaped (ids are `[\w-]+`, but never trust input). */
function jobPath(jobId: string): string {
  return `jobs/${encodeURIComponent(jobId)}`;
}

/** A storage root's route (root names are `[A-Za-z0-9._-]`, escaped anyway). */
function storagePath(root: string, action: string): string {
  return `storage/${encodeURIComponent(root)}/${action}`;
}

/** A project's promote route: each path segment escaped, the '/' kept. */
function promotePath(project: string, action: string): string {
  const segments = project
    .split('/')
    .filter(part => part.length > 0)
    .map(encodeURIComponent);
  return `projects/${segments.join('/')}/promote/${action}`;
}

function uploadPath(root: string, uploadId: string): string {
  return `${storagePath(root, 'uploads')}/${encodeURIComponent(uploadId)}`;
}

/**
 * A project's route: the folder path as one encoded segment (its slashes as
 * %2F, which the server decodes); `%2F` alone is the Jupyter root.
 */
function projectPath(project: string, action: string): string {
  const folder = project.replace(/^\/+|\/+$/g, '');
  return `projects/${encodeURIComponent(folder) || '%2F'}/${action}`;
}

/** Server-sent events (`event:`/`data:` blocks) to JSON events, as text arrives. */
export class EventStreamParser {
  constructor(private _onEvent: (event: IInstallEvent) => void) {}

  push(text: string): void {
    this._buffer += text;
    let end = this._buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = this._buffer.slice(0, end);
      this._buffer = this._buffer.slice(end + 2);
      this._block(block);
      end = this._buffer.indexOf('\n\n');
    }
  }

  end(): void {
    if (this._buffer.trim()) {
      this._block(this._buffer);
    }
    this._buffer = '';
  }

  private _block(block: string): void {
    const data = block
      .split('\n')
      .filter(line => line.startsWith('data:'))
      .map(line => line.slice(5).trimStart())
      .join('\n');
    if (!data) {
      return;
    }
    try {
      this._onEvent(JSON.parse(data) as IInstallEvent);
    } catch {
      // a block that is not JSON (a proxy's comment line): skipped
    }
  }

  private _buffer = '';
}

export namespace RayDevAPI {
  export interface IOptions {
    /** Defaults to the page's own server (`ServerConnection.makeSettings()`). */
    serverSettings?: ServerConnection.ISettings;
    /** The language of the messages the client writes itself (English by default). */
    translator?: ITranslator;
  }
}
