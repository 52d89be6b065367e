/**
 * Scheduled promotions in the UI, in jsdom with the API client and dialogs
 * stubbed (tests/test_promote_schedule.py and test_k8s_promote.py cover the
 * server): the review's schedule fields and next runs, the history's schedule,
 * the Kubernetes section's Suspend/Resume (dry run first, or the RBAC rule it
 * lacks), and "Save log to storage" in a job's log tab.
 */
import {
  Notification,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import type {
  IPromoteRequest,
  IPromotionPlan,
  IScheduledPromotions,
  ISuspendResult,
  RayDevAPI
} from '../api';
import { ApiError } from '../api';
import { ScheduledPromotions } from '../cluster/scheduled';
import { JobLogWidget } from '../jobs/logviewer';
import {
  DEFAULT_SCHEDULE,
  PromoteReview,
  withVariant
} from '../promote/dialog';
import {
  applicableManifests,
  buildBlocker,
  defaultManifest,
  parseManifests,
  runTimeLabel,
  scheduleLabel,
  statusFields,
  statusSettled
} from '../promote/model';
import { plan } from './fixtures';
import { waitFor } from './wait';

jest.mock('@jupyterlab/apputils', () => {
  const actual = jest.requireActual('@jupyterlab/apputils');
  return {
    ...actual,
    showDialog: jest.fn(),
    showErrorMessage: jest.fn(async () => undefined),
    Notification: { success: jest.fn(), error: jest.fn() }
  };
});

const trans = nullTranslator.load('jupyter_ray_dev');
const dialog = showDialog as jest.Mock;

function mount(element: JSX.Element): Widget {
  const widget = ReactWidget.create(element);
  Widget.attach(widget, document.body);
  return widget;
}

const RUNS = [
  '2026-03-09T02:00:00+01:00',
  '2026-03-10T02:00:00+01:00',
  '2026-03-11T02:00:00+01:00',
  '2026-03-12T02:00:00+01:00',
  '2026-03-13T02:00:00+01:00'
];

function cronPlan(request: IPromoteRequest): IPromotionPlan {
  return plan({
    variant: 'raycronjob',
    manifests: 'kind: RayCronJob\nmetadata:\n  name: proj\n',
    schedule: {
      schedule: request.schedule ?? '',
      time_zone: request.time_zone ?? null,
      suspend: !!request.suspend,
      zone_shown: request.time_zone ?? 'UTC',
      next_runs: RUNS
    }
  });
}

describe('the schedule in the review', () => {
  afterEach(() => {
    document.body.innerHTML = '';
  });

  it('gives a RayCronJob a schedule and the browser zone, and the others none', () => {
    const cron = withVariant(
      { entrypoint: 'p/t.py' },
      'raycronjob',
      'Europe/Berlin'
    );
    expect(cron).toEqual({
      entrypoint: 'p/t.py',
      variant: 'raycronjob',
      schedule: DEFAULT_SCHEDULE,
      time_zone: 'Europe/Berlin',
      suspend: false
    });
    expect(withVariant(cron, 'rayjob')).toEqual({
      entrypoint: 'p/t.py',
      variant: 'rayjob'
    });
    const kept = withVariant(
      { ...cron, schedule: '5 4 * * *' },
      'raycronjob',
      'UTC'
    );
    expect([kept.schedule, kept.time_zone]).toEqual([
      '5 4 * * *',
      'Europe/Berlin'
    ]);
  });

  it('shows run times as the wall clock of their zone, with the offset', () => {
    expect(runTimeLabel('2026-03-08T03:00:00-04:00')).toBe(
      '2026-03-08 03:00 -04:00'
    );
    expect(runTimeLabel('2026-05-01T22:20:00+00:00')).toBe(
      '2026-05-01 22:20 UTC'
    );
    expect(scheduleLabel({ schedule: '0 2 * * 1-5', time_zone: null })).toBe(
      '0 2 * * 1-5 (UTC)'
    );
  });

  it('picks the RayCronJob, replans with its fields and lists the next runs', async () => {
    const requests: IPromoteRequest[] = [];
    const api = {
      planPromotion: async (_project: string, request: IPromoteRequest) => {
        requests.push(request);
        if (request.schedule === '61 * * * *') {
          throw new Error("`schedule` '61 * * * *': Bad minute.");
        }
        return cronPlan(request);
      },
      listStorageRoots: async () => []
    } as unknown as RayDevAPI;
    const seen: (IPromotionPlan | null)[] = [];
    const widget = mount(
      <PromoteReview
        api={api}
        project="proj"
        candidates={['proj/train.py']}
        initialEntrypoint="proj/train.py"
        initialPlan={plan()}
        initialError={null}
        trans={trans}
        onPlan={fresh => seen.push(fresh)}
        onStorageRoot={() => undefined}
      />
    );
    const node = widget.node;
    await waitFor(
      () => !!node.querySelector('[data-testid="ray-promote-logs"]')
    );
    expect(
      node.querySelector('[data-testid="ray-promote-schedule"]')
    ).toBeNull();
    expect(
      node.querySelector('[data-testid="ray-promote-logs"]')!.textContent
    ).toContain('The logs go with the cluster');
    const variant = node.querySelector(
      '[data-testid="ray-promote-variant"]'
    ) as HTMLSelectElement;
    variant.value = 'raycronjob';
    variant.dispatchEvent(new Event('change', { bubbles: true }));
    await waitFor(
      () => !!node.querySelector('[data-testid="ray-promote-next-runs"]')
    );
    expect(requests[0].variant).toBe('raycronjob');
    expect(requests[0].schedule).toBe(DEFAULT_SCHEDULE);
    expect(requests[0].suspend).toBe(false);
    const runs = [
      ...node.querySelectorAll('[data-testid="ray-promote-next-runs"] li')
    ].map(li => li.textContent);
    expect(runs).toEqual(RUNS.map(runTimeLabel));
    expect(seen[seen.length - 1]?.variant).toBe('raycronjob');

    // a changed schedule is sent when the field is left, not on every key
    const cron = node.querySelector(
      '[data-testid="ray-promote-cron"]'
    ) as HTMLTextAreaElement;
    const zone = node.querySelector(
      '[data-testid="ray-promote-time-zone"]'
    ) as HTMLTextAreaElement;
    const setValue = Object.getOwnPropertyDescriptor(
      HTMLTextAreaElement.prototype,
      'value'
    )!.set!;
    setValue.call(zone, 'America/New_York');
    zone.dispatchEvent(new Event('input', { bubbles: true }));
    expect(requests).toHaveLength(1);
    zone.dispatchEvent(new FocusEvent('focusout', { bubbles: true }));
    await waitFor(() => requests.length === 2);
    expect(requests[1].time_zone).toBe('America/New_York');
    await waitFor(() => !(cron as HTMLTextAreaElement).disabled);

    setValue.call(cron, '61 * * * *');
    cron.dispatchEvent(new Event('input', { bubbles: true }));
    cron.dispatchEvent(
      new KeyboardEvent('keydown', { key: 'Enter', bubbles: true })
    );
    await waitFor(() => !!node.querySelector('[role="alert"]'));
    expect(node.querySelector('[role="alert"]')!.textContent).toContain(
      'Bad minute'
    );
    expect(
      node.querySelector('[data-testid="ray-promote-next-runs"]')
    ).toBeNull();
    widget.dispose();
  });

  it('says where the logs are kept, and refuses a build with an unusable history server', () => {
    expect(
      buildBlocker(
        plan({
          logs: {
            configured: false,
            message: 'm',
            error: "storage root 'x' is /tmp; reads s3:// or gs:// only."
          }
        }),
        trans
      )
    ).toContain('c.RayDev.history_server');
    expect(buildBlocker(plan(), trans)).toBeNull();
  });
});

describe('applying and following a RayCronJob', () => {
  it('applies the RayCronJob by default and shows its schedule and runs', () => {
    const choices = applicableManifests(
      parseManifests('kind: RayCronJob\nmetadata:\n  name: proj\n', trans)
    );
    expect(choices.map(c => c.kind)).toEqual(['RayCronJob']);
    expect(defaultManifest(choices)).toBe(0);
    const status = {
      schedule: '0 2 * * 1-5',
      time_zone: 'Europe/Berlin',
      suspend: true,
      last_schedule_time: '2026-12-01T01:00:00Z'
    };
    expect(statusFields(status)).toEqual([
      ['schedule', '0 2 * * 1-5 (Europe/Berlin)'],
      ['suspended', 'true'],
      ['last_schedule', '2026-12-01T01:00:00Z']
    ]);
    expect(statusSettled(status)).toBe(true);
  });
});

describe('scheduled promotions in the Kubernetes section', () => {
  const listed = (
    overrides: Partial<IScheduledPromotions> = {}
  ): IScheduledPromotions => ({
    namespace: 'team-a',
    can_suspend: true,
    missing_rule: null,
    cronjobs: [
      {
        kind: 'RayCronJob',
        name: 'proj',
        namespace: 'team-a',
        project: 'team/proj',
        schedule: '0 2 * * 1-5',
        time_zone: 'Europe/Berlin',
        suspend: false,
        last_schedule_time: '2026-12-01T01:00:00Z'
      }
    ],
    ...overrides
  });

  function review(suspend: boolean, dryRun: boolean): ISuspendResult {
    return {
      dry_run: dryRun,
      kind: 'RayCronJob',
      name: 'proj',
      namespace: 'team-a',
      suspend,
      changed: true,
      diff: '--- a\n+++ b\n@@ -1 +1 @@\n-  suspend: false\n+  suspend: true\n',
      status: { kind: 'RayCronJob', name: 'proj', namespace: 'team-a', suspend }
    };
  }

  afterEach(() => {
    document.body.innerHTML = '';
    dialog.mockReset();
    (showErrorMessage as jest.Mock).mockClear();
  });

  it('suspends after a dry run the user confirms, then lists again', async () => {
    const calls: [string, boolean, boolean | undefined][] = [];
    let state = listed();
    const api = {
      listScheduledPromotions: async () => state,
      suspendRayCronJob: async (
        name: string,
        suspend: boolean,
        options: any
      ) => {
        calls.push([name, suspend, options.dryRun]);
        if (!options.dryRun) {
          state = listed({
            cronjobs: [{ ...state.cronjobs[0], suspend: true }]
          });
        }
        return review(suspend, options.dryRun);
      }
    };
    dialog.mockResolvedValueOnce({ button: { accept: true } });
    const widget = mount(<ScheduledPromotions api={api} trans={trans} />);
    await waitFor(
      () => !!widget.node.querySelector('[data-testid="ray-scheduled-row"]')
    );
    const row = widget.node.querySelector('[data-testid="ray-scheduled-row"]')!;
    expect(row.textContent).toContain('team/proj · proj');
    expect(row.textContent).toContain('0 2 * * 1-5 (Europe/Berlin)');
    expect(row.textContent).toContain('last run 2026-12-01T01:00:00Z');
    const button = row.querySelector('button') as HTMLButtonElement;
    expect(button.textContent).toBe('Suspend');
    button.click();
    await waitFor(() => calls.length === 2);
    expect(calls).toEqual([
      ['proj', true, true],
      ['proj', true, false]
    ]);
    expect(dialog.mock.calls[0][0].title).toBe('Suspend the RayCronJob proj?');
    await waitFor(
      () =>
        widget.node.querySelector('[data-testid="ray-scheduled-toggle"]')!
          .textContent === 'Resume'
    );
    widget.dispose();
  });

  it('changes nothing when the dry run is cancelled', async () => {
    const calls: boolean[] = [];
    const api = {
      listScheduledPromotions: async () => listed(),
      suspendRayCronJob: async (_: string, suspend: boolean, options: any) => {
        calls.push(options.dryRun);
        return review(suspend, options.dryRun);
      }
    };
    dialog.mockResolvedValueOnce({ button: { accept: false } });
    const widget = mount(<ScheduledPromotions api={api} trans={trans} />);
    await waitFor(
      () => !!widget.node.querySelector('[data-testid="ray-scheduled-toggle"]')
    );
    (
      widget.node.querySelector(
        '[data-testid="ray-scheduled-toggle"]'
      ) as HTMLButtonElement
    ).click();
    await waitFor(() => dialog.mock.calls.length === 1);
    await new Promise(resolve => setTimeout(resolve, 20));
    expect(calls).toEqual([true]);
    widget.dispose();
  });

  it('says which RBAC rule is missing and offers no button that would fail', async () => {
    const rule =
      'Kubernetes refused: service account "ray-dev" may not patch raycronjobs.ray.io';
    const api = {
      listScheduledPromotions: async () =>
        listed({ can_suspend: false, missing_rule: rule }),
      suspendRayCronJob: jest.fn()
    };
    const widget = mount(<ScheduledPromotions api={api} trans={trans} />);
    await waitFor(
      () => !!widget.node.querySelector('[data-testid="ray-scheduled-rbac"]')
    );
    expect(
      widget.node.querySelector('[data-testid="ray-scheduled-rbac"]')!
        .textContent
    ).toContain(rule);
    const button = widget.node.querySelector(
      '[data-testid="ray-scheduled-toggle"]'
    ) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    expect(button.title).toBe(rule);
    widget.dispose();
  });
});

describe('Save log to storage', () => {
  it('is offered once the job has finished and sends the URI the user typed', async () => {
    const sockets: any[] = [];
    const saved: [string, string | null | undefined, boolean | undefined][] =
      [];
    let exists = false;
    const api = {
      connectJobLogs: () => {
        const socket: any = { close: () => undefined };
        sockets.push(socket);
        return socket;
      },
      saveJobLog: async (
        jobId: string,
        dest?: string | null,
        overwrite?: boolean
      ) => {
        saved.push([jobId, dest, overwrite]);
        if (exists && !overwrite) {
          throw new ApiError({
            status: 409,
            reason: 'storage_conflict',
            message: 'exists',
            details: {
              field: 'overwrite',
              dest: 's3://bucket/runs/raysubmit_1.log'
            }
          });
        }
        return {
          submission_id: jobId,
          dest: 's3://bucket/runs/raysubmit_1.log',
          root: 'artifacts',
          path: 'runs/raysubmit_1.log',
          bytes: 42
        };
      }
    } as unknown as RayDevAPI;
    const widget = new JobLogWidget({ api, jobId: 'raysubmit_1', trans });
    Widget.attach(widget, document.body);
    // the toolbar's button, as the widget holds it (jsdom renders no React toolbar)
    const names = [...widget.toolbar.names()];
    const save = [...widget.toolbar.children()][names.indexOf('save')] as any;
    expect(save.enabled).toBe(false);
    await waitFor(() => sockets.length > 0);
    const socket = sockets[0];
    socket.onopen?.({});
    socket.onmessage?.({
      data: JSON.stringify({ type: 'status', status: 'RUNNING' })
    });
    expect(save.enabled).toBe(false); // a running job's log is not saved half-written
    socket.onmessage?.({
      data: JSON.stringify({ type: 'status', status: 'SUCCEEDED' })
    });
    expect(save.enabled).toBe(true);

    dialog.mockReset();
    (showErrorMessage as jest.Mock).mockClear();
    dialog.mockResolvedValueOnce({
      button: { accept: true },
      value: ' s3://bucket/runs/ '
    });
    await widget.saveToStorage(api, trans);
    expect(saved).toEqual([['raysubmit_1', 's3://bucket/runs/', undefined]]);
    expect((Notification.success as jest.Mock).mock.calls[0][0]).toBe(
      'Saved the log to s3://bucket/runs/raysubmit_1.log (42 bytes).'
    );
    dialog.mockResolvedValueOnce({ button: { accept: true }, value: '' });
    await widget.saveToStorage(api, trans);
    expect(saved[1]).toEqual(['raysubmit_1', null, undefined]); // the artifacts root

    // the file is there: Keep sends nothing more, Replace sends overwrite
    exists = true;
    saved.length = 0;
    dialog
      .mockResolvedValueOnce({ button: { accept: true }, value: 's3://b/r/' })
      .mockResolvedValueOnce({ button: { accept: false } });
    await widget.saveToStorage(api, trans);
    expect(saved).toEqual([['raysubmit_1', 's3://b/r/', undefined]]);
    expect(dialog.mock.calls[3][0].body).toContain(
      's3://bucket/runs/raysubmit_1.log already exists'
    );
    dialog
      .mockResolvedValueOnce({ button: { accept: true }, value: 's3://b/r/' })
      .mockResolvedValueOnce({ button: { accept: true } });
    await widget.saveToStorage(api, trans);
    expect(saved.slice(1)).toEqual([
      ['raysubmit_1', 's3://b/r/', undefined],
      ['raysubmit_1', 's3://b/r/', true]
    ]);
    expect(showErrorMessage).not.toHaveBeenCalled();
    widget.dispose();
  });
});
