/**
 * The smoke set against JupyterLab installed from the wheel (`make ui-test-wheel`).
 *
 * Same browser and settings as playwright.config.js; the server is Lab from the clean
 * virtualenv RAY_DEV_WHEEL_VENV (`make ui-test-wheel` builds it from dist/), on its own
 * port (RAY_DEV_UI_WHEEL_PORT, default 8930) and folders, with its own Ray head (devlab
 * from the wheel). The smoke set is four existing tests, picked by title: one each for
 * the Ray panel, storage, a job with live logs and the promote review. A renamed title
 * fails here rather than dropping a test.
 */
const fs = require('fs');
const path = require('path');

const base = require('./playwright.config');

const venv = process.env.RAY_DEV_WHEEL_VENV;
if (!venv || !fs.existsSync(path.join(venv, 'bin', 'python'))) {
  throw new Error(
    'RAY_DEV_WHEEL_VENV must name the wheel virtualenv: run `make ui-test-wheel`'
  );
}
// Not Galata's 8888 nor the editable run's RAY_DEV_UI_PORT: both runs can share a machine
const port = process.env.RAY_DEV_UI_WHEEL_PORT || '8930';
// the editable install's server (base.webServer[1] is its outage server, not needed here)
const [labServer] = base.webServer;

const SMOKE = {
  'ray_panel.spec.ts': 'shows the cluster the server reports',
  'storage.spec.ts':
    'browse into a folder, preview a CSV, upload files and see them listed',
  'jobs.spec.ts':
    'right-click a script, run it, follow its log live to SUCCEEDED',
  'promote.spec.ts':
    'right-click a project, review Dockerfile and requirements, export the context'
};
for (const [file, title] of Object.entries(SMOKE)) {
  const source = fs.readFileSync(path.join(__dirname, 'tests', file), 'utf8');
  if (!source.includes(title)) {
    throw new Error(`smoke test "${title}" is no longer in tests/${file}`);
  }
}
const escape = text => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

module.exports = {
  ...base,
  testMatch: Object.keys(SMOKE),
  grep: new RegExp(Object.values(SMOKE).map(escape).join('|')),
  use: { ...base.use, baseURL: `http://localhost:${port}` },
  webServer: {
    ...labServer,
    // not `jlpm start`: the wheel's Python, from a folder outside the source tree's package
    command:
      `${path.join(venv, 'bin', 'python')} -m jupyter_ray_dev.devlab ` +
      '--root .lab/wheel/workspace --artifacts .lab/wheel/artifacts ' +
      '-- --config jupyter_server_test_config.py',
    url: `http://localhost:${port}/lab`,
    // the smoke set builds no image: no buildah store or registry for it
    env: {
      ...labServer.env,
      RAY_DEV_UI_PORT: port,
      PYTHONPATH: '',
      RAY_DEV_UI_BUILDER: '0'
    },
    // a server already on the port may be the editable install's: never test that one
    reuseExistingServer: false
  }
};
