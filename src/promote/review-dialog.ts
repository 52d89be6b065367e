import { Dialog } from '@jupyterlab/apputils';

/**
 * The review's dialog. JupyterLab's Dialog takes Enter in a <select> as its
 * default button, here *Build and push*: a keyboard user picks a run or a
 * variant with the arrow keys, and confirming the choice with Enter must not
 * start a build. Enter there does nothing; elsewhere the Dialog's rules hold.
 */
export class ReviewDialog<T> extends Dialog<T> {
  protected _evtKeydown(event: KeyboardEvent): void {
    if (event.key === 'Enter' && event.target instanceof HTMLSelectElement) {
      return;
    }
    super._evtKeydown(event);
  }
}
