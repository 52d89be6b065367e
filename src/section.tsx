import type { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import {
  ReactWidget,
  refreshIcon,
  Toolbar,
  ToolbarButton,
  UseSignal
} from '@jupyterlab/ui-components';
import type { Message } from '@lumino/messaging';
import * as React from 'react';

import type { IPolledModel, IPolledState } from './polling';

/**
 * A section of the Ray sidebar that shows one polled resource: it owns its
 * monitor (disposing the section stops the polling), polls only while on
 * screen, refreshes as soon as it comes back into view, and has a refresh
 * button in the title bar the accordion shows.
 */
export abstract class PolledSection<
  M extends IPolledModel<S>,
  S extends IPolledState
> extends ReactWidget {
  constructor(options: PolledSection.IOptions<M>) {
    super();
    this.id = options.id;
    this.addClass(options.className);
    this.trans = options.translator.load('jupyter_ray_dev');
    this.title.label = options.label;
    this.title.caption = options.caption;
    // `isVisible` is false while the sidebar is collapsed, another sidebar
    // tab is selected or this accordion section is folded.
    this.model = options.monitor(() => this.isVisible);

    // The accordion shows this toolbar in the section's title bar.
    this.toolbar = new Toolbar();
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: options.refreshTooltip,
        dataset: { 'data-testid': options.refreshTestId },
        onClick: () => this.onRefresh()
      })
    );
  }

  /** The polling model; the plugin updates its interval from settings. */
  readonly model: M;

  /** Section toolbar, picked up by the side panel's accordion. */
  readonly toolbar: Toolbar;

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.dispose();
    this.toolbar.dispose();
    super.dispose();
  }

  /** Fresh figures as soon as the section comes back into view. */
  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.model.refresh();
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed} initialArgs={this.model.state}>
        {(_, state?: S) => this.renderState(state ?? this.model.state)}
      </UseSignal>
    );
  }

  /** The refresh button was clicked. */
  protected onRefresh(): void {
    void this.model.refresh();
  }

  /** The view of one state of the resource. */
  protected abstract renderState(state: S): JSX.Element;

  protected readonly trans: TranslationBundle;
}

export namespace PolledSection {
  export interface IOptions<M> {
    id: string;
    className: string;
    translator: ITranslator;
    /** Translated by the caller (a literal in its `trans.__` call, for the extractor). */
    label: string;
    caption: string;
    refreshTooltip: string;
    refreshTestId: string;
    /** Make the monitor, polling only while `isVisible()`. */
    monitor: (isVisible: () => boolean) => M;
  }
}
