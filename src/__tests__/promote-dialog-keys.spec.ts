/**
 * Enter in the review dialog, with JupyterLab's real Dialog in jsdom: on a
 * <select> it changes nothing (the stock Dialog would press its default
 * button, *Build and push*); on the dialog itself the default button still
 * answers.
 */
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { ReviewDialog } from '../promote/review-dialog';
import { waitFor } from './wait';

const BUILD = 'Build and push';

function options(): Partial<Dialog.IOptions<unknown>> {
  const body = new Widget();
  const select = document.createElement('select');
  for (const value of ['latest', 'server']) {
    const option = document.createElement('option');
    option.value = option.textContent = value;
    select.appendChild(option);
  }
  body.node.appendChild(select);
  return {
    title: 'Promote',
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: BUILD })],
    defaultButton: 1
  };
}

/** Launch `dialog`, press Enter on `target` (its select or itself): the label
 * of the button it resolved with, or null while it is still open. */
async function enterOn(
  dialog: Dialog<unknown>,
  target: 'select' | 'dialog'
): Promise<string | null> {
  let answer: string | null = null;
  // a dialog disposed while open rejects: that is no answer
  void dialog.launch().then(
    result => {
      answer = result.button.label;
    },
    () => undefined
  );
  await waitFor(() => dialog.isAttached);
  const node =
    target === 'select'
      ? (dialog.node.querySelector('select') as HTMLSelectElement)
      : dialog.node;
  node.focus();
  node.dispatchEvent(
    new KeyboardEvent('keydown', { key: 'Enter', bubbles: true })
  );
  await new Promise(resolve => setTimeout(resolve, 50));
  return answer;
}

describe('Enter in the promote review dialog', () => {
  it('on a select starts no build, where the stock Dialog would', async () => {
    const stock = new Dialog(options());
    expect(await enterOn(stock, 'select')).toBe(BUILD);

    const review = new ReviewDialog(options());
    expect(await enterOn(review, 'select')).toBeNull();
    expect(review.isAttached).toBe(true);
    review.dispose();
  });

  it('on the dialog itself still presses the default button', async () => {
    const review = new ReviewDialog(options());
    expect(await enterOn(review, 'dialog')).toBe(BUILD);
  });
});
