import type { TranslationBundle } from '@jupyterlab/translation';
import { ReactWidget } from '@jupyterlab/ui-components';
import * as React from 'react';

import type { IBuildPath } from '../api';
import { buildPathText } from './model';

/** The row saying which way an image is (or was) built: full build or code layer. */
export function BuildPathRow(props: {
  path: IBuildPath;
  testId: string;
  trans: TranslationBundle;
}): JSX.Element {
  return (
    <div className="jp-RayDev-promoteRow">
      <span className="jp-RayDev-promoteLabel">{props.trans.__('Build')}</span>
      <span data-testid={props.testId}>
        {buildPathText(props.path, props.trans)}
      </span>
    </div>
  );
}

/** A main-area tab rendering one view with the props it was opened with. */
export class ViewWidget<P extends object> extends ReactWidget {
  constructor(
    private _view: (props: P) => JSX.Element,
    private _props: P,
    className: string
  ) {
    super();
    this.addClass(className);
  }

  render(): JSX.Element {
    const View = this._view;
    return <View {...this._props} />;
  }
}
