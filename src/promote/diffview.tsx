import * as React from 'react';

import { diffLines } from './model';

/** A unified diff, added and removed lines coloured (theme variables only). */
export function UnifiedDiff(props: {
  diff: string;
  testid?: string;
}): JSX.Element {
  return (
    <pre className="jp-RayDev-applyDiff" data-testid={props.testid}>
      {diffLines(props.diff).map((line, i) => (
        <div key={i} className={`jp-RayDev-applyDiff-${line.kind}`}>
          {line.text || ' '}
        </div>
      ))}
    </pre>
  );
}
