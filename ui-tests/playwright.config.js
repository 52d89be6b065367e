/**
 * Galata's configuration with the machine's own Chromium.
 *
 * Playwright's browser download is not reachable here, so the browser is the
 * distribution's `/usr/bin/chromium` (override with CHROMIUM_PATH) and the
 * packages are installed with PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1. Video needs
 * Playwright's ffmpeg download, hence off.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const crypto = require('crypto');

// Must match jupyter_server_test_config.py; lets two UI runs share a machine.
// The outage server (jupyter_server_outage_config.py) takes the next three ports.
const port = process.env.RAY_DEV_UI_PORT || '8888';
const outagePort = Number(port) + 1;
// The main server's Ray head takes this token, and the outage server holds it:
// a test can bring Ray up at the outage server's address (a relay to the head).
const rayToken =
  process.env.RAY_AUTH_TOKEN || crypto.randomBytes(16).toString('hex');

module.exports = {
  ...baseConfig,
  // in CI a skipped test fails the run (ci/skips.js)
  reporter: [['list'], [require.resolve('../ci/playwright-skips.js')]],
  // One Ray head serves every test; a slow first dashboard answer is normal.
  timeout: 120 * 1000,
  use: {
    ...baseConfig.use,
    baseURL: `http://localhost:${port}`,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    },
    video: 'off',
    trace: 'off'
  },
  webServer: [
    {
      // Starts a private local Ray head (or uses RAY_ADDRESS), then JupyterLab.
      command: 'jlpm start',
      url: `http://localhost:${port}/lab`,
      env: { ...process.env, RAY_AUTH_TOKEN: rayToken },
      timeout: 180 * 1000,
      reuseExistingServer: !process.env.CI,
      // SIGTERM, not Playwright's default SIGKILL: devlab then stops its Ray head by PID.
      gracefulShutdown: { signal: 'SIGTERM', timeout: 30 * 1000 }
    },
    {
      // Lab whose Ray and storage are unreachable: the error states, for real.
      command: 'jlpm start:outage',
      url: `http://localhost:${outagePort}/lab`,
      env: {
        ...process.env,
        RAY_ADDRESS: `http://127.0.0.1:${outagePort + 1}`,
        RAY_AUTH_MODE: 'token',
        RAY_AUTH_TOKEN: rayToken
      },
      timeout: 180 * 1000,
      reuseExistingServer: !process.env.CI,
      gracefulShutdown: { signal: 'SIGTERM', timeout: 30 * 1000 }
    }
  ]
};
