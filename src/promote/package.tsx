/**
 * The runtime_env path's result: where the code zip went and the RayJob that
 * uses it, marked as less reproducible than the image (as Ray's guide says).
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import * as React from 'react';

import type { IPromotionPackage, RayDevAPI } from '../api';
import { ApplyToCluster } from './apply';
import { nameOf } from './model';
import { ViewWidget } from './parts';
import { ManifestActions } from './progress';

interface IPackageResultProps {
  api: RayDevAPI;
  result: IPromotionPackage;
  trans: TranslationBundle;
  onHistory: () => void;
}

function PackageResult(props: IPackageResultProps): JSX.Element {
  const { api, result, trans } = props;
  return (
    <div
      className="jp-RayDev-promoteProgress"
      data-testid="ray-promote-package"
    >
      <p className="jp-RayDev-promoteWarning" role="note">
        {trans.__(
          'Less reproducible than an image: %1',
          result.reproducibility
        )}
      </p>
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('Code zip')}</span>
        <code data-testid="ray-promote-package-uri">{result.uri}</code>
        <span>
          {result.uploaded
            ? trans.__('(uploaded, %1 bytes)', result.bytes)
            : trans.__('(already there: same content)')}
        </span>
      </div>
      <div className="jp-RayDev-promoteRow">
        <span className="jp-RayDev-promoteLabel">{trans.__('Runs')}</span>
        <code>{result.entrypoint_command}</code>
      </div>
      {result.not_carried.length > 0 ? (
        <ul className="jp-RayDev-promoteList">
          {result.not_carried.map(item => (
            <li key={item.spec} className="jp-RayDev-promoteDiff-unpinned">
              {item.spec}: {item.reason}
            </li>
          ))}
        </ul>
      ) : null}
      {result.manifest_errors.length > 0 ? (
        <div className="jp-RayDev-promoteError" role="alert">
          {result.manifest_errors.join('\n')}
        </div>
      ) : null}
      <ManifestActions
        manifests={result.manifests}
        filename={`${nameOf(result.project) || 'project'}-runtime-env-rayjob.yaml`}
        trans={trans}
      />
      <ApplyToCluster api={api} manifests={result.manifests} trans={trans} />
      <div className="jp-RayDev-promoteActions">
        <button className="jp-mod-styled" onClick={props.onHistory}>
          {trans.__('Promotion history')}
        </button>
      </div>
      <h3>{trans.__('RayJob (runtimeEnvYAML)')}</h3>
      <pre
        className="jp-RayDev-promoteCode"
        data-testid="ray-promote-package-manifests"
      >
        {result.manifests}
      </pre>
    </div>
  );
}

/** A main-area tab with the package's result. */
export class PackageResultWidget extends ViewWidget<IPackageResultProps> {
  constructor(props: IPackageResultProps) {
    super(PackageResult, props, 'jp-RayDev-promoteProgressWidget');
  }
}
