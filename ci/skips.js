/**
 * A CI run fails when any test was skipped, for jest and Playwright alike (the
 * pytest rule is in tests/conftest.py). A skip says a part was missing; on a
 * user's machine that may be so, but CI installs every part, and a skipped
 * test there would pass what was never tested. CI=1 (`.ci/run`) or CI=true
 * (CI runners) both count.
 */
'use strict';

function inCI() {
  const value = (process.env.CI || '').trim().toLowerCase();
  return !['', '0', 'false', 'no'].includes(value);
}

function report(skipped) {
  const lines = skipped.map(s => `  SKIPPED ${s}`).join('\n');
  return `${skipped.length} skipped in CI: the run fails\n${lines}`;
}

/** jest: `getLastError` is how a reporter fails the run (as coverage thresholds do). */
class JestReporter {
  onRunComplete(_contexts, results) {
    const skipped = [];
    for (const file of results.testResults) {
      for (const t of file.testResults) {
        if (
          t.status === 'pending' ||
          t.status === 'todo' ||
          t.status === 'skipped'
        ) {
          skipped.push(`${file.testFilePath}: ${t.fullName}`);
        }
      }
    }
    if (skipped.length && inCI()) {
      this._error = new Error(report(skipped));
      console.error(this._error.message);
    }
  }

  getLastError() {
    return this._error;
  }
}

/** Playwright: `onEnd` may turn the run's status to failed. */
class PlaywrightReporter {
  constructor() {
    this.skipped = [];
  }

  onTestEnd(test, result) {
    if (result.status === 'skipped') {
      const why = test.annotations
        .filter(a => a.type === 'skip' || a.type === 'fixme')
        .map(a => a.description)
        .filter(Boolean)
        .join('; ');
      this.skipped.push(
        `${test.titlePath().join(' › ')}${why ? `: ${why}` : ''}`
      );
    }
  }

  onEnd() {
    if (this.skipped.length && inCI()) {
      console.error(report(this.skipped));
      return { status: 'failed' };
    }
  }

  printsToStdio() {
    return false;
  }
}

module.exports = { inCI, JestReporter, PlaywrightReporter };
