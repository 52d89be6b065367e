/** "Apply to cluster": choosing the manifest, classifying the dry run's diff,
 * why the button is disabled, and when status polling may stop. */
import { nullTranslator } from '@jupyterlab/translation';
import {
  applicableManifests,
  applyBlocker,
  classifyDiffLine,
  dashboardHref,
  defaultManifest,
  diffLines,
  diffStats,
  manifestLabel,
  parseManifests,
  statusFields,
  statusSettled,
  STATUS_POLL_DELAYS
} from '../promote/model';

const trans = nullTranslator.load('jupyter_ray_dev');

const MANIFESTS = `apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: proj-cluster
spec: {}
---
apiVersion: ray.io/v1
kind: RayJob
metadata:
  name: proj
  namespace: prod
spec:
  entrypoint: python train.py
  rayClusterSpec:
    headGroupSpec:
      template:
        spec:
          containers:
            - image: r.io/team/proj@sha256:1
`;

describe('apply: the manifest to apply', () => {
  it('parses every object of the YAML stream, in order', () => {
    const choices = parseManifests(MANIFESTS, trans);
    expect(choices.map(c => [c.kind, c.name, c.namespace])).toEqual([
      ['RayCluster', 'proj-cluster', null],
      ['RayJob', 'proj', 'prod']
    ]);
    const job = choices[1].manifest as any;
    expect(
      job.spec.rayClusterSpec.headGroupSpec.template.spec.containers[0].image
    ).toBe('r.io/team/proj@sha256:1');
  });

  it('skips empty documents and non-objects', () => {
    expect(parseManifests('', trans)).toEqual([]);
    expect(parseManifests('---\n---\n- a\n---\nplain\n', trans)).toEqual([]);
  });

  it('throws the parser error on broken YAML', () => {
    expect(() => parseManifests('kind: [RayJob\n', trans)).toThrow(
      /not valid YAML/
    );
  });

  it('keeps only KubeRay kinds with a name', () => {
    const choices = parseManifests(
      `kind: Secret\nmetadata: {name: s}\n---\nkind: RayJob\nmetadata: {}\n---\n${MANIFESTS}`,
      trans
    );
    expect(applicableManifests(choices).map(c => c.kind)).toEqual([
      'RayCluster',
      'RayJob'
    ]);
  });

  it('chooses the RayJob by default, else RayService, else RayCluster', () => {
    const choices = applicableManifests(parseManifests(MANIFESTS, trans));
    expect(defaultManifest(choices)).toBe(1);
    expect(defaultManifest(choices.slice(0, 1))).toBe(0);
    const service = parseManifests(
      'kind: RayCluster\nmetadata: {name: c}\n---\nkind: RayService\nmetadata: {name: s}\n',
      trans
    );
    expect(defaultManifest(service)).toBe(1);
    expect(defaultManifest([])).toBe(-1);
  });

  it('labels a choice by kind, name and namespace', () => {
    const [cluster, job] = parseManifests(MANIFESTS, trans);
    expect(manifestLabel(cluster)).toBe('RayCluster/proj-cluster');
    expect(manifestLabel(job)).toBe('RayJob/proj (-n prod)');
  });
});

describe('apply: when the button is enabled', () => {
  it('is enabled only in Kubernetes, else says the server message', () => {
    expect(
      applyBlocker({ in_kubernetes: true, message: null }, null, trans)
    ).toBeNull();
    // configured but not a KubeRay pod: apply still works
    expect(
      applyBlocker(
        { in_kubernetes: true, message: 'not a KubeRay pod' },
        null,
        trans
      )
    ).toBeNull();
    expect(
      applyBlocker(
        { in_kubernetes: false, message: 'Not running in Kubernetes' },
        null,
        trans
      )
    ).toBe('Not running in Kubernetes');
    expect(
      applyBlocker({ in_kubernetes: false, message: null }, null, trans)
    ).toContain('does not run in Kubernetes');
  });

  it('is disabled while discovery runs and when it fails (its message)', () => {
    expect(applyBlocker(null, null, trans)).toContain('Checking');
    expect(applyBlocker(null, 'Kubernetes API unreachable', trans)).toBe(
      'Kubernetes API unreachable'
    );
  });
});

describe('apply: the dry run diff', () => {
  const DIFF = [
    '--- on the cluster',
    '+++ after apply',
    '@@ -1,3 +1,3 @@',
    ' kind: RayJob',
    '-  image: r.io/p@sha256:0',
    '+  image: r.io/p@sha256:1',
    '+  ---not-a-header',
    '--- x',
    ''
  ].join('\n');

  it('classifies headers, hunks, added, removed and context lines', () => {
    expect(classifyDiffLine('--- on the cluster')).toBe('header');
    expect(classifyDiffLine('+++ after apply')).toBe('header');
    expect(classifyDiffLine('@@ -1 +1 @@')).toBe('hunk');
    expect(classifyDiffLine('+x: 1')).toBe('added');
    expect(classifyDiffLine('-x: 1')).toBe('removed');
    expect(classifyDiffLine(' x: 1')).toBe('context');
    expect(classifyDiffLine('')).toBe('context');
    // YAML's own document marker, removed or added, is a change, not a header
    expect(classifyDiffLine('----')).toBe('removed');
    expect(classifyDiffLine('+---')).toBe('added');
    // inside a hunk, a removed "-- x" line is a change
    expect(classifyDiffLine('--- x', true)).toBe('removed');
    expect(classifyDiffLine('+++ y', true)).toBe('added');
  });

  it('splits a diff into lines without a trailing empty one, and counts changes', () => {
    const lines = diffLines(DIFF);
    expect(lines.map(l => l.kind)).toEqual([
      'header',
      'header',
      'hunk',
      'context',
      'removed',
      'added',
      'added',
      'removed'
    ]);
    expect(diffStats(lines)).toEqual({ added: 2, removed: 2 });
    expect(diffLines('')).toEqual([]);
  });
});

describe('apply: the status after apply', () => {
  it('lists the fields KubeRay reported, in order', () => {
    expect(
      statusFields({
        job_deployment_status: 'Running',
        job_status: 'RUNNING',
        service_status: null,
        message: ''
      })
    ).toEqual([
      ['deployment', 'Running'],
      ['job', 'RUNNING']
    ]);
    expect(statusFields({ state: 'ready' })).toEqual([['state', 'ready']]);
  });

  it('stops polling once the object settled', () => {
    expect(statusSettled({ job_deployment_status: 'Initializing' })).toBe(
      false
    );
    expect(
      statusSettled({ job_deployment_status: 'Running', job_status: 'RUNNING' })
    ).toBe(false);
    expect(statusSettled({ job_deployment_status: 'Complete' })).toBe(true);
    expect(
      statusSettled({ job_deployment_status: 'Running', job_status: 'FAILED' })
    ).toBe(true);
    expect(statusSettled({ service_status: 'Running' })).toBe(true);
    expect(statusSettled({ state: 'ready' })).toBe(true);
    expect(statusSettled({ state: 'suspended' })).toBe(true);
    expect(statusSettled({})).toBe(false);
  });

  it('polls a few times, backing off', () => {
    expect(STATUS_POLL_DELAYS.length).toBeLessThanOrEqual(6);
    for (let i = 1; i < STATUS_POLL_DELAYS.length; i++) {
      expect(STATUS_POLL_DELAYS[i]).toBeGreaterThan(STATUS_POLL_DELAYS[i - 1]);
    }
  });

  it('links the dashboard only when KubeRay gave a full URL', () => {
    expect(dashboardHref('https://ray.example.com/')).toBe(
      'https://ray.example.com/'
    );
    expect(
      dashboardHref('proj-head-svc.prod.svc.cluster.local:8265')
    ).toBeNull();
    expect(dashboardHref(null)).toBeNull();
  });
});
