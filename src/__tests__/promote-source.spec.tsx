/**
 * Where the review's pins come from, in jsdom with the API client stubbed
 * (tests/test_promote_pins_from_run.py covers the server with real Ray jobs,
 * ui-tests/tests/promote_provenance.spec.ts the whole path in Chromium): the
 * run picker re-plans, each pin names its origin, the run's warnings, the
 * files changed since the run, and *Add* of an undeclared import.
 */
import { nullTranslator } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';
import * as React from 'react';

import type {
  IPromoteRequest,
  IPromotionPlan,
  IRunSummary,
  RayDevAPI
} from '../api';
import { PromoteReview } from '../promote/dialog';
import {
  ChangedFiles,
  originLabel,
  pinLabel,
  runLabel,
  SourceWarnings,
  withSource
} from '../promote/source';
import { formatTime } from '../time';
import { plan } from './fixtures';
import { waitFor } from './wait';

const trans = nullTranslator.load('jupyter_ray_dev');

// 2026-12-04 13:40:00 UTC
const T = 1796391600;

function run(over: Partial<IRunSummary> = {}): IRunSummary {
  return {
    submission_id: 'raysubmit_new',
    project: 'team/proj',
    file: 'team/proj/train.ipynb',
    created: T,
    started: T,
    ended: T + 5,
    status: 'SUCCEEDED',
    state: 'recorded',
    state_message: 'recorded',
    usable: true,
    ...over
  };
}

const RUNS = [
  run(),
  run({ submission_id: 'raysubmit_failed', status: 'FAILED', started: null }),
  run({
    submission_id: 'raysubmit_old',
    state: 'not_recorded',
    usable: false
  })
];

const FROM_RUN = {
  kind: 'run' as const,
  run_id: 'raysubmit_new',
  time: T,
  imported: true
};
const FROM_SERVER = {
  kind: 'server' as const,
  run_id: null,
  time: null,
  imported: null
};

/** The review as the server gives it for `request`. */
function planFor(request: IPromoteRequest): IPromotionPlan {
  const server = request.source_run === 'server';
  const from = server ? FROM_SERVER : FROM_RUN;
  return plan({
    requirements: {
      source: 'runtime_env.pip',
      requirements: ['pyyaml==6.0.2', 'tabulate==0.9.0', 'rich'],
      changes: [
        {
          name: 'pyyaml',
          spec: 'pyyaml>=5',
          pinned: 'pyyaml==6.0.2',
          how: 'installed',
          from,
          message: 'pinned'
        },
        {
          name: 'tabulate',
          spec: 'tabulate==0.9.0',
          pinned: 'tabulate==0.9.0',
          how: 'exact',
          from,
          message: 'already exact.'
        },
        {
          name: 'ray',
          spec: 'ray',
          pinned: null,
          how: 'base_image',
          from,
          message: 'base image'
        }
      ],
      unpinned: [
        {
          spec: 'rich',
          name: 'rich',
          reason: 'not installed',
          from: { ...from, imported: false }
        }
      ],
      local_files: []
    },
    source: {
      requested: request.source_run ?? 'latest',
      kind: server ? 'server' : 'run',
      run: server ? null : RUNS[0],
      description: '',
      warnings: [],
      runs: RUNS
    },
    changed_files: server
      ? null
      : {
          since: 'raysubmit_new',
          modified: ['helpers.py'],
          added: ['new.py'],
          removed: [],
          counts: { modified: 1, added: 1, removed: 0 },
          changed: true
        },
    undeclared: server
      ? []
      : [
          {
            name: 'tornado',
            version: '6.6.1',
            modules: ['tornado'],
            requirement: 'tornado==6.6.1'
          }
        ]
  });
}

function mount(element: JSX.Element): Widget {
  const widget = ReactWidget.create(element);
  Widget.attach(widget, document.body);
  return widget;
}

/** A component rendered (React renders a ReactWidget on its next update). */
async function render(element: JSX.Element): Promise<HTMLElement> {
  const widget = mount(<div data-testid="host">{element}</div>);
  await waitFor(() => !!widget.node.querySelector('[data-testid="host"]'));
  return widget.node.querySelector('[data-testid="host"]') as HTMLElement;
}

function review(api: RayDevAPI, initial: IPromotionPlan): Widget {
  return mount(
    <PromoteReview
      api={api}
      project="team/proj"
      candidates={['team/proj/train.ipynb']}
      initialEntrypoint="team/proj/train.ipynb"
      initialPlan={initial}
      initialError={null}
      trans={trans}
      onPlan={() => undefined}
      onStorageRoot={() => undefined}
    />
  );
}

function text(node: HTMLElement, testid: string): string {
  return node.querySelector(`[data-testid="${testid}"]`)?.textContent ?? '';
}

function picker(node: HTMLElement): HTMLSelectElement {
  return node.querySelector(
    '[data-testid="ray-promote-source-run"]'
  ) as HTMLSelectElement;
}

function choose(select: HTMLSelectElement, value: string): void {
  select.value = value;
  select.dispatchEvent(new Event('change', { bubbles: true }));
}

describe('the labels of a pin source', () => {
  it('writes times as the server does, in UTC to the minute', () => {
    expect(formatTime(T)).toBe('2026-12-04 13:40 UTC');
  });

  it('names the run, this server’s Python or a project file', () => {
    expect(originLabel(FROM_RUN, trans)).toBe(
      'from the run raysubmit_new (2026-12-04 13:40 UTC)'
    );
    expect(originLabel({ ...FROM_RUN, time: null }, trans)).toBe(
      'from the run raysubmit_new'
    );
    expect(originLabel(FROM_SERVER, trans)).toBe('from this server’s Python');
    expect(originLabel({ kind: 'file', run_id: null, time: null }, trans)).toBe(
      'a file of the project'
    );
  });

  it('says where each kind of pin got its version', () => {
    const pin = (how: string) =>
      pinLabel(
        {
          name: 'p',
          spec: 'p',
          pinned: 'p==1',
          how: how as 'installed',
          from: FROM_RUN,
          message: ''
        },
        trans
      );
    expect(
      ['installed', 'exact', 'url', 'local', 'base_image'].map(pin)
    ).toEqual([
      'from the run raysubmit_new (2026-12-04 13:40 UTC)',
      'exact as the project declares it',
      'pinned by its URL',
      'a file of the project, copied into the image',
      'provided by the base image'
    ]);
  });

  it('gives each run its id, time and status, and says when it has no record', () => {
    expect(runLabel(RUNS[0], trans)).toBe(
      'raysubmit_new · 2026-12-04 13:40 UTC · SUCCEEDED'
    );
    expect(runLabel(RUNS[2], trans)).toBe(
      'raysubmit_old · 2026-12-04 13:40 UTC · SUCCEEDED (no record of its packages)'
    );
  });

  it('sets the request’s source and keeps the rest', () => {
    expect(
      withSource({ entrypoint: 'a.py', variant: 'rayjob' }, 'server')
    ).toEqual({ entrypoint: 'a.py', variant: 'rayjob', source_run: 'server' });
  });
});

describe('the source of the pins in the review', () => {
  afterEach(() => {
    document.body.innerHTML = '';
  });

  it('offers the runs, attributes each pin, and re-plans from this server’s Python', async () => {
    const requests: IPromoteRequest[] = [];
    const api = {
      planPromotion: async (_project: string, request: IPromoteRequest) => {
        requests.push(request);
        return planFor(request);
      },
      listStorageRoots: async () => []
    } as unknown as RayDevAPI;
    const node = review(api, planFor({})).node;
    await waitFor(
      () => !!node.querySelector('[data-testid="ray-promote-source"]')
    );

    const select = picker(node);
    expect(select.value).toBe('latest');
    expect([...select.options].map(o => [o.value, o.textContent])).toEqual([
      ['latest', 'Latest succeeded run (raysubmit_new)'],
      ['raysubmit_new', 'raysubmit_new · 2026-12-04 13:40 UTC · SUCCEEDED'],
      ['raysubmit_failed', 'raysubmit_failed · 2026-12-04 13:40 UTC · FAILED'],
      [
        'raysubmit_old',
        'raysubmit_old · 2026-12-04 13:40 UTC · SUCCEEDED (no record of its packages)'
      ],
      ['server', 'This server’s Python']
    ]);
    // reachable by keyboard: a labelled native control
    expect(select.tabIndex).toBe(0);
    expect(node.querySelector(`label[for="${select.id}"]`)?.textContent).toBe(
      'Pin from'
    );
    expect(text(node, 'ray-promote-source-description')).toContain(
      'the run raysubmit_new of team/proj/train.ipynb'
    );

    const pins = node.querySelectorAll(
      '[data-testid="ray-promote-pin-origins"] li'
    );
    expect([...pins].map(li => li.textContent)).toEqual([
      'pyyaml==6.0.2 from the run raysubmit_new (2026-12-04 13:40 UTC)',
      'tabulate==0.9.0 exact as the project declares it',
      'ray provided by the base image',
      'rich not pinned, from the run raysubmit_new (2026-12-04 13:40 UTC) (the run did not import it)'
    ]);

    choose(select, 'server');
    await waitFor(() => requests.length === 1 && !picker(node).disabled);
    expect(requests[0]).toEqual({
      entrypoint: 'team/proj/train.ipynb',
      variant: 'rayjob',
      source_run: 'server'
    });
    expect(picker(node).value).toBe('server');
    expect(node.querySelector('[data-package="pyyaml"]')?.textContent).toBe(
      'pyyaml==6.0.2 from this server’s Python'
    );
    expect(text(node, 'ray-promote-source-description')).toContain(
      'this server’s Python'
    );
    // nothing run-specific is left from the run's plan
    expect(
      node.querySelector('[data-testid="ray-promote-changed-files"]')
    ).toBeNull();
    expect(
      node.querySelector('[data-testid="ray-promote-undeclared"]')
    ).toBeNull();

    // another run, by id: the request carries it
    choose(picker(node), 'raysubmit_failed');
    await waitFor(() => requests.length === 2);
    expect(requests[1].source_run).toBe('raysubmit_failed');
  });

  it('keeps the runs to pick from when the server refuses a choice', async () => {
    const api = {
      planPromotion: async () => {
        throw new Error('`source_run` is no recorded run');
      },
      listStorageRoots: async () => []
    } as unknown as RayDevAPI;
    const node = review(api, planFor({})).node;
    await waitFor(
      () => !!node.querySelector('[data-testid="ray-promote-source"]')
    );
    choose(picker(node), 'raysubmit_old');
    await waitFor(
      () => !!node.querySelector('[role="alert"]') && !picker(node).disabled
    );
    expect(node.querySelector('[role="alert"]')!.textContent).toContain(
      'no recorded run'
    );
    expect(picker(node).options).toHaveLength(5);
    expect(picker(node).value).toBe('raysubmit_old');
  });

  it('shows the warning of a record that cannot be read', async () => {
    const message =
      'The run raysubmit_old (2026-12-04 13:40 UTC) cannot be pinned from: it ended without a record. The pins come from this server’s Python instead.';
    const node = await render(
      <SourceWarnings warnings={[{ kind: 'record_unusable', message }]} />
    );
    const list = node.querySelector(
      '[data-testid="ray-promote-source-warnings"]'
    )!;
    expect(list.getAttribute('role')).toBe('note');
    expect(list.textContent).toBe(message);
    expect((await render(<SourceWarnings warnings={[]} />)).textContent).toBe(
      ''
    );
  });

  it('names the files changed since the run, or says none did', async () => {
    const changed = planFor({}).changed_files!;
    const node = await render(<ChangedFiles changed={changed} trans={trans} />);
    expect(node.textContent).toContain(
      'The project’s files changed since the run raysubmit_new'
    );
    const groups = [...node.querySelectorAll('dt')].map(dt => [
      dt.textContent,
      [...dt.nextElementSibling!.querySelectorAll('li')].map(
        li => li.textContent
      )
    ]);
    expect(groups).toEqual([
      ['Modified', ['helpers.py']],
      ['Added', ['new.py']]
    ]);
    const same = await render(
      <ChangedFiles
        changed={{ ...changed, modified: [], added: [], changed: false }}
        trans={trans}
      />
    );
    expect(same.textContent).toBe(
      'The project’s files are as they were in the run raysubmit_new.'
    );
    expect(
      (await render(<ChangedFiles changed={null} trans={trans} />)).textContent
    ).toBe('');
  });

  it('adds an undeclared import to runtime_env.yaml pinned, then re-plans', async () => {
    const log: string[] = [];
    let declared = false;
    let fail = true;
    const api = {
      planPromotion: async (_project: string, request: IPromoteRequest) => {
        log.push(`plan ${request.source_run ?? 'latest'}`);
        const fresh = planFor(request);
        return declared ? { ...fresh, undeclared: [] } : fresh;
      },
      addRuntimeEnvPackages: async (
        project: string,
        requirements: string[]
      ) => {
        log.push(`add ${project} ${requirements.join(',')}`);
        if (fail) {
          fail = false;
          throw new Error('runtime_env.yaml changed on disk');
        }
        declared = true;
        return {};
      },
      listStorageRoots: async () => []
    } as unknown as RayDevAPI;
    const node = review(api, planFor({})).node;
    await waitFor(
      () => !!node.querySelector('[data-testid="ray-promote-undeclared"]')
    );
    const item = node.querySelector(
      '[data-testid="ray-promote-undeclared"] li[data-package="tornado"]'
    )!;
    expect(item.textContent).toContain('tornado==6.6.1');
    expect(item.textContent).toContain('(imports tornado)');
    const button = (): HTMLButtonElement =>
      node.querySelector(
        '[data-testid="ray-promote-undeclared"] button'
      ) as HTMLButtonElement;
    expect(button().textContent).toBe('Add to runtime_env.yaml');
    expect(button().title).toBe(
      'Add tornado==6.6.1 to team/proj/runtime_env.yaml'
    );

    // a failed write says why and plans nothing
    button().click();
    await waitFor(
      () =>
        !!node.querySelector(
          '[data-testid="ray-promote-undeclared"] [role="alert"]'
        )
    );
    expect(text(node, 'ray-promote-undeclared')).toContain(
      'runtime_env.yaml changed on disk'
    );
    expect(log).toEqual(['add team/proj tornado==6.6.1']);

    button().click();
    await waitFor(
      () => !node.querySelector('[data-testid="ray-promote-undeclared"]')
    );
    expect(log).toEqual([
      'add team/proj tornado==6.6.1',
      'add team/proj tornado==6.6.1',
      'plan latest'
    ]);
  });
});
