/**
 * The review's "Build and push" when no build can run, and the build tab's parity
 * result: the diff shown, "Push anyway" asking the server with override and
 * following the same promotion's log on. The API client is stubbed (the server's
 * side is covered by the pytest real builds); the Dialog is JupyterLab's own.
 */
import { Dialog } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import {
  type IPromotion,
  type IPromotionPlan,
  type RayDevAPI as API
} from '../api';
import { BUILD_BUTTON_CLASS, syncBuildButton } from '../promote/dialog';
import { buildButtonState, INITIAL_BUILD, resumeBuild } from '../promote/model';
import { BuildProgressWidget } from '../promote/progress';
import { NUMPY_MISMATCH, recordingFetch, type IRecordedCall } from './fixtures';
import { apiOver, json } from './stub-fetch';
import { waitFor } from './wait';

const trans = nullTranslator.load('jupyter_ray_dev');

function plan(overrides: Partial<IPromotionPlan> = {}): IPromotionPlan {
  return {
    builders: [{ name: 'buildah', available: true, reason: 'ok' }],
    image: 'registry.example.com/team/proj:abc',
    push_possible: true,
    manifest_errors: {},
    ...overrides
  } as IPromotionPlan;
}

describe('Build and push in the review dialog', () => {
  it('is disabled, saying why, without a target image or a plan', () => {
    const none = buildButtonState(plan({ image: null }), null, trans);
    expect(none.disabled).toBe(true);
    expect(none.reason).toContain('c.RayDev.promote_registry');
    expect(buildButtonState(plan(), null, trans)).toEqual({
      disabled: false,
      reason: null
    });
    const failed = buildButtonState(null, 'Ray is unreachable at x', trans);
    expect(failed).toEqual({
      disabled: true,
      reason: 'Ray is unreachable at x'
    });
  });

  it('toggles the dialog’s own button as the plan changes', () => {
    const dialog = new Dialog({
      body: 'review',
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({
          label: 'Build and push',
          className: BUILD_BUTTON_CLASS
        })
      ],
      defaultButton: 0
    });
    const button = dialog.node.querySelector<HTMLButtonElement>(
      `button.${BUILD_BUTTON_CLASS}`
    )!;
    expect(button.textContent).toContain('Build and push');
    syncBuildButton(
      dialog.node,
      buildButtonState(plan({ image: null }), null, trans)
    );
    expect(button.disabled).toBe(true);
    expect(button.title).toContain('promote_registry');
    expect(button.getAttribute('aria-disabled')).toBe('true');
    syncBuildButton(dialog.node, buildButtonState(plan(), null, trans));
    expect(button.disabled).toBe(false);
    expect(button.title).toBe('');
    dialog.dispose();
  });
});

describe('parity result and Push anyway', () => {
  it('posts the override to the promotion’s push route', async () => {
    const calls: IRecordedCall[] = [];
    const fetch = recordingFetch(calls, () =>
      json({ id: 'promo_1', status: 'pushing' }, 202)
    );
    const api = apiOver(fetch, { baseUrl: 'http://localhost:8888/' });
    await api.pushPromotion('promo_1', true);
    expect(new URL(calls[0].url).pathname).toBe(
      '/ray-dev/api/promotions/promo_1/push'
    );
    expect(calls[0].method).toBe('POST');
    expect(JSON.parse(calls[0].body)).toEqual({ override: true });
  });

  it('keeps the log and follows again after the result', () => {
    const ended = {
      ...INITIAL_BUILD,
      lines: ['a', 'b'],
      next: 2,
      result: { status: 'blocked' } as IPromotion
    };
    const resumed = resumeBuild(ended);
    expect(resumed.result).toBeNull();
    expect(resumed.lines).toEqual(['a', 'b']);
    expect(resumed.next).toBe(2);
  });

  it('shows the diff of a blocked build; Push anyway pushes and follows on', async () => {
    const sockets: Array<{ from: number; socket: any }> = [];
    const pushes: Array<[string, boolean]> = [];
    const api = {
      connectPromotionLog: (id: string, from: number) => {
        const socket: any = { close: jest.fn() };
        sockets.push({ from, socket });
        return socket;
      },
      pushPromotion: async (id: string, override: boolean) => {
        pushes.push([id, override]);
        return { id, status: 'pushing' };
      },
      // "Apply to cluster" appears once the image is pushed: outside Kubernetes here
      getKubernetes: async () => ({
        in_kubernetes: false,
        message: 'Not in Kubernetes.'
      })
    } as unknown as API;
    const promotion = {
      id: 'promo_1',
      project: 'proj',
      image: 'r.io/team/proj:abc'
    } as IPromotion;
    const widget = new BuildProgressWidget({
      api,
      promotion,
      manifests: 'image: r.io/team/proj:abc\n',
      trans
    });
    Widget.attach(widget, document.body);
    await waitFor(() => sockets.length === 1);
    const send = (message: unknown): void =>
      sockets[sockets.length - 1].socket.onmessage({
        data: JSON.stringify(message)
      });
    send({ type: 'line', n: 0, text: 'STEP 1/5: FROM base' });
    send({
      type: 'end',
      promotion: {
        ...promotion,
        status: 'blocked',
        digest: null,
        error: 'Not pushed: the image differs from the run raysubmit_1',
        parity: {
          status: 'failed',
          source: 'the run raysubmit_1',
          mismatches: [NUMPY_MISMATCH],
          notes: ['Python 3.11.2 in the image, 3.11.7 in the run'],
          extras: 3
        }
      }
    });
    const node = widget.node;
    await waitFor(
      () => node.querySelector('[data-testid="ray-promote-parity"]') !== null
    );
    const parity = node.querySelector('[data-testid="ray-promote-parity"]')!;
    expect(parity.textContent).toContain(
      'Parity check failed: the image differs from the run raysubmit_1.'
    );
    expect(
      node.querySelector('[data-testid="ray-promote-mismatches"]')!.textContent
    ).toBe('numpy 2.1.3 in the image, 1.26.4 in the run');
    expect(parity.textContent).toContain('3 more distributions');
    expect(
      node.querySelector('[data-testid="ray-promote-status"]')!.textContent
    ).toBe('Built, not pushed: the image differs from the run raysubmit_1');
    // nothing to apply while the image is not pushed
    expect(node.textContent).not.toContain('Download manifests');

    const button = node.querySelector<HTMLButtonElement>(
      '[data-testid="ray-promote-push-anyway"]'
    )!;
    button.click();
    await waitFor(() => sockets.length === 2);
    expect(pushes).toEqual([['promo_1', true]]);
    expect(sockets[1].from).toBe(1); // the log goes on after the line already shown
    send({ type: 'line', n: 1, text: 'Pushing r.io/team/proj:abc ...' });
    send({
      type: 'end',
      promotion: {
        ...promotion,
        status: 'pushed',
        digest: 'sha256:1',
        error: null,
        overrides: [
          {
            what: 'parity',
            parity_status: 'failed',
            mismatches: [],
            reason: null,
            user: 'alice',
            at: '2026-12-03T00:00:00+00:00'
          }
        ]
      }
    });
    await waitFor(() => node.textContent!.includes('Pushed anyway by alice'));
    expect(
      node.querySelector('[data-testid="ray-promote-push-anyway"]')
    ).toBeNull();
    expect(node.textContent).toContain('Download manifests');
    Widget.detach(widget);
    widget.dispose();
  });
});
