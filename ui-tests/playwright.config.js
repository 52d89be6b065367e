/**
 * Galata's configuration with the machine's own Chromium.
 *
 * Playwright's browser download is not reachable here, so the browser is the
 * distribution's `/usr/bin/chromium` (override with CHROMIUM_PATH) and the
 * packages are installed with PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1. Video needs
 * Playwright's ffmpeg download, hence off.
 */
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

// Must match jupyter_server_test_config.py; lets two UI runs share a machine.
const port = process.env.RAY_DEV_UI_PORT || '8888';

module.exports = {
  ...baseConfig,
  reporter: [['list']],
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
  webServer: {
    // Starts a private local Ray head (or uses RAY_ADDRESS), then JupyterLab.
    command: 'jlpm start',
    url: `http://localhost:${port}/lab`,
    timeout: 180 * 1000,
    reuseExistingServer: !process.env.CI,
    // SIGTERM, not Playwright's default SIGKILL: devlab then stops its Ray head by PID.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 30 * 1000 }
  }
};
