/**
 * Pure logic of "Promote to prod": which project and entrypoint a click
 * means, what differs from dev, the kubectl command, the build log's state.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { parseAllDocuments } from 'yaml';

import type {
  BuildStreamMessage,
  IBuildPath,
  IPromotion,
  IPromotionPlan,
  IStorageRoot
} from '../api';

/** Files that can be a promoted project's entrypoint. */
export function isEntrypoint(path: string): boolean {
  return /\.(py|ipynb)$/i.test(path);
}

/** The folder a path is in ('' for the Jupyter root). */
export function folderOf(path: string): string {
  const at = path.lastIndexOf('/');
  return at < 0 ? '' : path.slice(0, at);
}

/** The last segment of a path. */
export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * The entrypoint candidates at the top of a project folder, notebooks first
 * (what a user promoting from a notebook project most likely means).
 */
export function entrypointCandidates(
  folder: string,
  names: { name: string; type: string }[]
): string[] {
  const join = (name: string): string => (folder ? `${folder}/${name}` : name);
  return names
    .filter(item => item.type !== 'directory' && isEntrypoint(item.name))
    .map(item => item.name)
    .sort((a, b) => {
      const nb = Number(b.endsWith('.ipynb')) - Number(a.endsWith('.ipynb'));
      return nb !== 0 ? nb : a.localeCompare(b);
    })
    .map(join);
}

/** One line of "what differs from dev". */
export interface IDifference {
  kind: 'pinned' | 'unpinned' | 'excluded' | 'env' | 'secret' | 'skipped';
  text: string;
}

/** Everything the image does differently from the dev cluster, for the review. */
export function differencesFromDev(
  plan: IPromotionPlan,
  trans: TranslationBundle
): IDifference[] {
  const out: IDifference[] = [];
  for (const change of plan.requirements.changes) {
    if (change.how === 'installed') {
      out.push({
        kind: 'pinned',
        text: `${change.spec} → ${change.pinned} (${change.message})`
      });
    } else if (change.how === 'base_image') {
      out.push({ kind: 'skipped', text: `${change.spec}: ${change.message}` });
    }
  }
  for (const item of plan.requirements.unpinned) {
    out.push({ kind: 'unpinned', text: `${item.spec}: ${item.reason}` });
  }
  for (const warning of plan.entrypoint.warnings) {
    out.push({ kind: 'skipped', text: warning.message });
  }
  for (const path of plan.files.excluded) {
    out.push({
      kind: 'excluded',
      text: trans.__('%1 is not in the image', path)
    });
  }
  for (const [name, value] of Object.entries(plan.env_vars.image)) {
    out.push({ kind: 'env', text: `ENV ${name}=${value}` });
  }
  for (const secret of plan.env_vars.refused) {
    out.push({
      kind: 'secret',
      text: `${secret.name}: ${secret.reason}. ${secret.hint}`
    });
  }
  return out;
}

/**
 * The plan's warnings the source block does not already show (the run's own
 * warnings, and the changed files it lists): the review's Warnings list.
 */
export function otherWarnings(
  plan: IPromotionPlan
): IPromotionPlan['warnings'] {
  const shown = new Set(
    plan.source.warnings.map(warning => `${warning.kind}\n${warning.message}`)
  );
  return plan.warnings.filter(
    warning =>
      !shown.has(`${warning.kind}\n${warning.message}`) &&
      !(warning.kind === 'files_changed' && plan.changed_files)
  );
}

/** The roots Ray nodes can download a working_dir from (s3:// and gs://, writable). */
/** The review's one line on where the head and worker groups come from. */
export function shapeSourceLine(
  plan: IPromotionPlan,
  trans: TranslationBundle
): string {
  const shape = plan.shape_source;
  if (shape.source === 'raycluster') {
    return shape.dropped.length
      ? trans.__(
          'Groups, resources and rayStartParams from the RayCluster %1; left out as dev-only: %2.',
          shape.raycluster,
          shape.dropped.join(', ')
        )
      : trans.__(
          'Groups, resources and rayStartParams from the RayCluster %1.',
          shape.raycluster
        );
  }
  return trans.__(
    "Groups and resources from Ray's view of its nodes. %1",
    shape.reason
  );
}

/**
 * Each CPU and memory number of a shape from Ray's view, with where it came from;
 * `flagged`: a machine's total the manifests leave out (the user sets it).
 */
export function shapeNumberLines(
  plan: IPromotionPlan,
  trans: TranslationBundle
): { text: string; flagged: boolean }[] {
  return (plan.shape_source.numbers ?? []).map(n => ({
    text: n.used
      ? trans.__('%1 %2 %3: from %4', n.group, n.resource, n.value, n.from)
      : trans.__(
          '%1 %2 %3 is a machine total, not a request: left out of the manifests (from %4). Set it yourself.',
          n.group,
          n.resource,
          n.value,
          n.from
        ),
    flagged: !n.used
  }));
}

export function objectStoreRoots(roots: IStorageRoot[]): IStorageRoot[] {
  return roots.filter(
    root =>
      (root.protocol === 's3' || root.protocol === 'gs') && !root.read_only
  );
}

/** Which way the image is (or was) made, and why, in one line. */
export function buildPathText(
  buildPath: IBuildPath,
  trans: TranslationBundle
): string {
  return buildPath.path === 'code_layer'
    ? trans.__(
        'Code layer on %1 (no builder): %2',
        buildPath.earlier?.image ?? '',
        buildPath.reason
      )
    : trans.__('Full build: %1', buildPath.reason);
}

/** Why "Build and push" cannot run, or null when it can. */
export function buildBlocker(
  plan: IPromotionPlan,
  trans: TranslationBundle
): string | null {
  const usable = plan.builders.filter(builder => builder.available);
  // the code-layer path writes the image to the registry itself: it needs no builder
  if (usable.length === 0 && plan.build_path?.path !== 'code_layer') {
    const tried = plan.builders
      .map(builder => `${builder.name}: ${builder.reason}`)
      .join('; ');
    return trans.__(
      'No image builder can run on this server (%1). Export the context and build it in CI.',
      tried
    );
  }
  if (!plan.image) {
    return trans.__(
      'No target image: ask the server admin to set c.RayDev.promote_registry, or give a full image name.'
    );
  }
  if (!plan.push_possible) {
    return trans.__(
      '%1 names no registry to push to: use registry.example.com/name:tag.',
      plan.image
    );
  }
  if (Object.keys(plan.manifest_errors).length > 0) {
    return trans.__(
      'The generated manifests do not validate against the KubeRay CRDs.'
    );
  }
  if (plan.logs?.error) {
    return `c.RayDev.history_server cannot be used (${plan.logs.error}): the server builds nothing until it is fixed.`;
  }
  return null;
}

/**
 * The review dialog's "Build and push" button for the plan on screen: disabled,
 * with why, while the build cannot run (no plan, no target image, no builder...).
 */
export function buildButtonState(
  plan: IPromotionPlan | null,
  error: string | null,
  trans: TranslationBundle
): { disabled: boolean; reason: string | null } {
  const reason = plan
    ? buildBlocker(plan, trans)
    : (error ??
      trans.__('The review did not load, so there is nothing to build.'));
  return { disabled: reason !== null, reason };
}

/** A shell command that applies the manifests (a quoted heredoc: no expansion). */
export function kubectlApply(manifests: string, namespace?: string): string {
  let marker = 'RAY_DEV_MANIFESTS';
  while (manifests.includes(marker)) {
    marker += '_';
  }
  const ns = namespace ? ` -n ${namespace}` : '';
  const body = manifests.endsWith('\n') ? manifests : `${manifests}\n`;
  return `kubectl apply${ns} -f - <<'${marker}'\n${body}${marker}\n`;
}

/** The progress view's state, folded from the stream's messages. */
export interface IBuildState {
  lines: string[];
  /** The number the next line must have (to resume after a drop). */
  next: number;
  /** The step buildah is at (`STEP 3/9: RUN ...`). */
  step: string | null;
  result: IPromotion | null;
  error: string | null;
}

export const INITIAL_BUILD: IBuildState = {
  lines: [],
  next: 0,
  step: null,
  result: null,
  error: null
};

/** Follow again after the result: a push of the same promotion continues its log. */
export function resumeBuild(state: IBuildState): IBuildState {
  return { ...state, result: null, error: null };
}

/** Apply one stream message; a line already seen (after a reconnect) is dropped. */
export function reduceBuild(
  state: IBuildState,
  message: BuildStreamMessage
): IBuildState {
  switch (message.type) {
    case 'line':
      if (message.n < state.next) {
        return state;
      }
      return {
        ...state,
        lines: [...state.lines, message.text],
        next: message.n + 1,
        step: /^STEP \d+\/\d+: /.test(message.text) ? message.text : state.step
      };
    case 'end':
      return { ...state, result: message.promotion };
    case 'error':
      return { ...state, error: message.message };
  }
}

/** `registry/name@sha256:...` for `registry[:port]/name:tag` and its digest. */
export function pinnedReference(image: string, digest: string | null): string {
  if (!digest) {
    return image;
  }
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  const name = colon > slash ? image.slice(0, colon) : image;
  return `${name}@${digest}`;
}

// ------------------------------------------------------------ apply to cluster

/** One Kubernetes object of the promotion's manifests, ready to apply. */
export interface IManifestChoice {
  kind: string;
  name: string;
  namespace: string | null;
  manifest: Record<string, unknown>;
}

/** Kinds the apply endpoint takes, in the order a user most likely means. */
const APPLY_ORDER = ['RayCronJob', 'RayJob', 'RayService', 'RayCluster'];

/**
 * The objects of a multi-document YAML text (`---` separated), in order; empty
 * documents and non-objects are left out. Throws the parser's first error.
 */
export function parseManifests(
  text: string,
  trans: TranslationBundle
): IManifestChoice[] {
  const out: IManifestChoice[] = [];
  for (const doc of parseAllDocuments(text)) {
    if ('errors' in doc && doc.errors.length) {
      throw new Error(
        trans.__('The manifests are not valid YAML: %1', doc.errors[0].message)
      );
    }
    const value: unknown = doc.toJS();
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      continue;
    }
    const manifest = value as Record<string, unknown>;
    const meta = (manifest.metadata ?? {}) as Record<string, unknown>;
    out.push({
      kind: typeof manifest.kind === 'string' ? manifest.kind : '',
      name: typeof meta.name === 'string' ? meta.name : '',
      namespace: typeof meta.namespace === 'string' ? meta.namespace : null,
      manifest
    });
  }
  return out;
}

/** The objects the apply endpoint takes (KubeRay kinds with a name). */
export function applicableManifests(
  choices: IManifestChoice[]
): IManifestChoice[] {
  return choices.filter(
    choice => APPLY_ORDER.includes(choice.kind) && choice.name !== ''
  );
}

/** The index of the object to apply by default: the RayCronJob, else the RayJob, else the first KubeRay kind; -1 when none. */
export function defaultManifest(choices: IManifestChoice[]): number {
  for (const kind of APPLY_ORDER) {
    const at = choices.findIndex(choice => choice.kind === kind);
    if (at >= 0) {
      return at;
    }
  }
  return -1;
}

/** `RayJob/train` (`-n ns` when the manifest names a namespace). */
export function manifestLabel(choice: IManifestChoice): string {
  const ns = choice.namespace ? ` (-n ${choice.namespace})` : '';
  return `${choice.kind}/${choice.name}${ns}`;
}

/** Why "Apply to cluster" is disabled, from discovery (or its failure); null when it can run. */
export function applyBlocker(
  discovery: { in_kubernetes: boolean; message: string | null } | null,
  error: string | null,
  trans: TranslationBundle
): string | null {
  if (error !== null) {
    return error;
  }
  if (discovery === null) {
    return trans.__('Checking whether the server runs in Kubernetes…');
  }
  if (!discovery.in_kubernetes) {
    return (
      discovery.message || trans.__('The server does not run in Kubernetes.')
    );
  }
  return null;
}

export type DiffLineKind = 'header' | 'hunk' | 'added' | 'removed' | 'context';

export interface IDiffLine {
  kind: DiffLineKind;
  text: string;
}

/**
 * What one line of a unified diff is. `+++`/`---` are file headers only before
 * the first hunk (`inHunk` false); inside a hunk they are changed lines.
 */
export function classifyDiffLine(line: string, inHunk = false): DiffLineKind {
  if (
    !inHunk &&
    (line.startsWith('+++ ') ||
      line.startsWith('--- ') ||
      line === '+++' ||
      line === '---')
  ) {
    return 'header';
  }
  if (line.startsWith('@@')) {
    return 'hunk';
  }
  if (line.startsWith('+')) {
    return 'added';
  }
  if (line.startsWith('-')) {
    return 'removed';
  }
  return 'context';
}

/** A unified diff's lines, classified (no trailing empty line). */
export function diffLines(diff: string): IDiffLine[] {
  if (!diff) {
    return [];
  }
  const lines = diff.split('\n');
  if (lines[lines.length - 1] === '') {
    lines.pop();
  }
  let inHunk = false;
  return lines.map(text => {
    const kind = classifyDiffLine(text, inHunk);
    inHunk = inHunk || kind === 'hunk';
    return { kind, text };
  });
}

/** Counts of added and removed lines, for the dialog's summary. */
export function diffStats(lines: IDiffLine[]): {
  added: number;
  removed: number;
} {
  let added = 0;
  let removed = 0;
  for (const line of lines) {
    if (line.kind === 'added') {
      added += 1;
    } else if (line.kind === 'removed') {
      removed += 1;
    }
  }
  return { added, removed };
}

export type StatusField =
  | 'deployment'
  | 'job'
  | 'service'
  | 'state'
  | 'schedule'
  | 'suspended'
  | 'last_schedule'
  | 'message';

/** The status fields worth showing, in order, with a value (suspended only when it is). */
export function statusFields(status: {
  job_deployment_status?: string | null;
  job_status?: string | null;
  service_status?: string | null;
  state?: string | null;
  schedule?: string | null;
  time_zone?: string | null;
  suspend?: boolean | null;
  last_schedule_time?: string | null;
  message?: string | null;
}): [StatusField, string][] {
  const pairs: [StatusField, string | null | undefined][] = [
    ['deployment', status.job_deployment_status],
    ['job', status.job_status],
    ['service', status.service_status],
    ['state', status.state],
    [
      'schedule',
      status.schedule
        ? scheduleLabel({
            schedule: status.schedule,
            time_zone: status.time_zone ?? null
          })
        : null
    ],
    ['suspended', status.suspend ? 'true' : null],
    ['last_schedule', status.last_schedule_time],
    ['message', status.message]
  ];
  return pairs.filter((pair): pair is [StatusField, string] => !!pair[1]);
}

/** `0 2 * * 1-5 (Europe/Berlin)`: a schedule and the zone it is read in. */
export function scheduleLabel(schedule: {
  schedule?: string;
  time_zone?: string | null;
}): string {
  return `${schedule.schedule ?? ''} (${schedule.time_zone || 'UTC'})`;
}

/**
 * A run time of the review (ISO 8601 with the schedule zone's offset) as the
 * user reads it: the wall-clock time in that zone, and the offset.
 */
export function runTimeLabel(iso: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2})?(.*)$/.exec(iso);
  if (!match) {
    return iso;
  }
  const offset = match[3] === 'Z' || match[3] === '+00:00' ? 'UTC' : match[3];
  return `${match[1]} ${match[2]} ${offset}`;
}

const DEPLOYMENT_SETTLED = [
  'Complete',
  'Failed',
  'ValidationFailed',
  'Suspended'
];
const JOB_SETTLED = ['SUCCEEDED', 'FAILED', 'STOPPED'];

/** True once polling can stop: the object reached a state it will not leave by itself soon. */
export function statusSettled(status: {
  job_deployment_status?: string | null;
  job_status?: string | null;
  service_status?: string | null;
  state?: string | null;
  schedule?: string | null;
}): boolean {
  if (status.schedule) {
    return true; // a RayCronJob never finishes: its runs are the RayJobs it stamps
  }
  if (status.job_deployment_status || status.job_status) {
    return (
      DEPLOYMENT_SETTLED.includes(status.job_deployment_status ?? '') ||
      JOB_SETTLED.includes(status.job_status ?? '')
    );
  }
  if (status.service_status) {
    return status.service_status === 'Running';
  }
  if (status.state) {
    return ['ready', 'failed', 'suspended'].includes(
      status.state.toLowerCase()
    );
  }
  return false;
}

/** Delays (ms) before each status poll after an apply: a few, backing off. */
export const STATUS_POLL_DELAYS = [1000, 2000, 4000, 8000, 16000];

/** A link target for KubeRay's dashboard URL, or null when it is a bare in-cluster `host:port`. */
export function dashboardHref(url: string | null | undefined): string | null {
  return url && /^https?:\/\//i.test(url) ? url : null;
}
