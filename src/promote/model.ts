/**
 * Pure logic of "Promote to prod": which project and entrypoint a click
 * means, what differs from dev, the kubectl command, the build log's state.
 */
import type { BuildStreamMessage, IPromotion, IPromotionPlan } from '../api';

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
export function differencesFromDev(plan: IPromotionPlan): IDifference[] {
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
    out.push({ kind: 'excluded', text: `${path} is not in the image` });
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

/** Why "Build and push" cannot run, or null when it can. */
export function buildBlocker(plan: IPromotionPlan): string | null {
  const usable = plan.builders.filter(builder => builder.available);
  if (usable.length === 0) {
    const tried = plan.builders
      .map(builder => `${builder.name}: ${builder.reason}`)
      .join('; ');
    return `No image builder can run on this server (${tried}). Export the context and build it in CI.`;
  }
  if (!plan.image) {
    return 'No target image: ask the server admin to set c.RayDev.promote_registry, or give a full image name.';
  }
  if (!plan.push_possible) {
    return `${plan.image} names no registry to push to: use registry.example.com/name:tag.`;
  }
  if (Object.keys(plan.manifest_errors).length > 0) {
    return 'The generated manifests do not validate against the KubeRay CRDs.';
  }
  return null;
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
