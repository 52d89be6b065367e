/**
 * Benchmark (not a test): big folders in the browser, the Storage panel against
 * JupyterLab's own file browser, as ratios in one run.
 *
 *     node bench/storage_browser.js [--files 100000] [--lab-files 10000] [--rounds 3]
 *
 * (`make bench` runs it with ui-tests' Playwright and Debian's Chromium.)
 *
 * Two folders of empty files: `big` (--files) and `mid` (--lab-files). Lab's file
 * browser fetches a folder whole (one `GET /api/contents`) and renders every row, so
 * on 100,000 files it takes minutes (338 s to its first row, measured once on this
 * machine): it is the baseline on `mid` only. Per round, each in a fresh page:
 *   - the panel opens `mid`: time to its first row, longest main-thread task;
 *   - Lab's file browser opens `mid` (`filebrowser:go-to-path`): the same two;
 *   - the panel opens `big`, then scrolls to the end until the last entry shows
 *     (every page fetched as the list scrolls): first row, longest task, time to
 *     the end, longest task over the scroll.
 * Long tasks come from a PerformanceObserver("longtask") in the page.
 * Printed: medians and ratios. Targets: on `mid`, the panel's first row <= 0.1x
 * Lab's and its longest task <= 0.25x Lab's; the panel's first row on `big` <= 1.5x
 * its first row on `mid` (paged: the folder's size does not matter); the longest
 * task over the scroll to the end of `big` under 400 ms (a stall a user feels).
 *
 * One Jupyter server with the extension (devlab, no Ray head: RAY_ADDRESS points
 * at a closed port), its artifacts folder inside the Jupyter root so that both
 * views list the same files; stopped by its process group's PID at the end.
 */
'use strict';

const { spawn } = require('child_process');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');

const REPO = path.resolve(__dirname, '..');
const { chromium } = require(require.resolve('@playwright/test', {
  paths: [path.join(REPO, 'ui-tests')]
}));

function arg(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
}

const FILES = arg('files', 100000);
const LAB_FILES = arg('lab-files', 10000);
const ROUNDS = arg('rounds', 3);
const PANEL_ID = 'jupyter-ray-dev:storage';

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

async function waitHttp(url, deadlineMs) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > end) {
      throw new Error(`${url} did not answer within ${deadlineMs / 1000}s`);
    }
    await new Promise(r => setTimeout(r, 250));
  }
}

const median = xs => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Collect the page's long tasks from now on; returns a reader of the longest. */
async function watchLongTasks(page) {
  await page.evaluate(() => {
    window.__longest = 0;
    new PerformanceObserver(list => {
      for (const e of list.getEntries()) {
        window.__longest = Math.max(window.__longest, e.duration);
      }
    }).observe({ type: 'longtask' });
  });
  return async () => page.evaluate(() => window.__longest);
}

async function labReady(page, base) {
  await page.goto(`${base}/lab`);
  await page.locator('#jp-main-dock-panel').waitFor();
  await page.waitForFunction(() => !!window.jupyterapp);
}

async function panelRound(browser, base, folder, count) {
  const page = await browser.newPage();
  try {
    await labReady(page, base);
    await page.evaluate(() =>
      window.jupyterapp.commands.execute('ray-dev:open-storage')
    );
    const view = page.locator(`[id="${PANEL_ID}"]`);
    const entry = name =>
      view.locator(`[data-testid="storage-entry"][data-name="${name}"]`);
    await entry(folder).waitFor();
    const longest = await watchLongTasks(page);
    const t0 = Date.now();
    await entry(folder).dblclick();
    await entry('f000000.txt').waitFor();
    const firstRow = Date.now() - t0;
    const openTask = await longest();
    const last = `f${String(count - 1).padStart(6, '0')}.txt`;
    const scroller = view.locator('.jp-RayDev-storageRows [role="list"]');
    const t1 = Date.now();
    while (!(await entry(last).isVisible())) {
      await scroller.evaluate(node => {
        node.scrollTop = node.scrollHeight;
      });
      await page.waitForTimeout(20);
      if (Date.now() - t1 > 300000) {
        throw new Error('the last entry never showed');
      }
    }
    return {
      firstRow,
      openTask,
      toEnd: Date.now() - t1,
      scrollTask: await longest()
    };
  } finally {
    await page.close();
  }
}

async function labRound(browser, base, folder) {
  const page = await browser.newPage();
  try {
    await labReady(page, base);
    const longest = await watchLongTasks(page);
    const t0 = Date.now();
    await page.evaluate(folder =>
      window.jupyterapp.commands.execute('filebrowser:go-to-path', {
        path: `artifacts/${folder}`
      }),
      folder
    );
    await page
      .locator('.jp-DirListing-item[title*="f000000.txt"]')
      .first()
      .waitFor({ timeout: 300000 });
    return { firstRow: Date.now() - t0, openTask: await longest() };
  } finally {
    await page.close();
  }
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rdp-bench-browser-'));
  const root = path.join(tmp, 'root');
  const folders = { big: FILES, mid: LAB_FILES };
  for (const [name, count] of Object.entries(folders)) {
    const dir = path.join(root, 'artifacts', name);
    fs.mkdirSync(dir, { recursive: true });
    for (let i = 0; i < count; i++) {
      fs.writeFileSync(path.join(dir, `f${String(i).padStart(6, '0')}.txt`), '');
    }
  }
  const port = await freePort();
  const deadRay = await freePort();
  const python = path.join(REPO, '.venv', 'bin', 'python');
  const server = spawn(
    python,
    [
      '-m',
      'jupyter_ray_dev.devlab',
      '--root',
      root,
      '--artifacts',
      path.join(root, 'artifacts'),
      '--',
      '--config',
      path.join(REPO, 'ui-tests', 'jupyter_server_test_config.py')
    ],
    {
      env: {
        ...process.env,
        RAY_DEV_UI_PORT: String(port),
        RAY_ADDRESS: `http://127.0.0.1:${deadRay}`
      },
      stdio: ['ignore', 'ignore', fs.openSync(path.join(tmp, 'server.log'), 'w')],
      detached: true
    }
  );
  let browser;
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitHttp(`${base}/lab`, 120000);
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu']
    });
    const mid = { panel: [], lab: [] };
    const big = [];
    for (let r = 0; r < ROUNDS; r++) {
      mid.panel.push(await panelRound(browser, base, 'mid', LAB_FILES));
      mid.lab.push(await labRound(browser, base, 'mid'));
      big.push(await panelRound(browser, base, 'big', FILES));
      const [p, l, b] = [mid.panel[r], mid.lab[r], big[r]];
      console.log(
        `round ${r + 1}: ${LAB_FILES} files: panel first row ${p.firstRow} ms ` +
          `(longest task ${p.openTask} ms), Lab's file browser ${l.firstRow} ms ` +
          `(${l.openTask} ms); ${FILES} files: panel first row ${b.firstRow} ms ` +
          `(${b.openTask} ms), end in ${b.toEnd} ms (longest task ${b.scrollTask} ms)`
      );
    }
    const m = (xs, k) => median(xs.map(x => x[k]));
    const ratio = (a, b) => a / Math.max(1, b);
    const judged = (value, ok) => `${value} ${ok ? 'OK' : 'OVER'}`;
    const firstRow = ratio(m(mid.panel, 'firstRow'), m(mid.lab, 'firstRow'));
    const openTask = ratio(m(mid.panel, 'openTask'), m(mid.lab, 'openTask'));
    const bigFirst = ratio(m(big, 'firstRow'), m(mid.panel, 'firstRow'));
    console.log(`\n${ROUNDS} rounds, medians:`);
    console.log(
      `  ${LAB_FILES} files, first row: panel ${m(mid.panel, 'firstRow')} ms vs ` +
        `Lab's file browser ${m(mid.lab, 'firstRow')} ms = ` +
        judged(`${firstRow.toFixed(3)}x (target <= 0.1x)`, firstRow <= 0.1)
    );
    console.log(
      `  ${LAB_FILES} files, longest task: panel ${m(mid.panel, 'openTask')} ms vs ` +
        `${m(mid.lab, 'openTask')} ms = ` +
        judged(`${openTask.toFixed(3)}x (target <= 0.25x)`, openTask <= 0.25)
    );
    console.log(
      `  panel first row, ${FILES} vs ${LAB_FILES} files: ${m(big, 'firstRow')} ms vs ` +
        `${m(mid.panel, 'firstRow')} ms = ` +
        judged(`${bigFirst.toFixed(3)}x (target <= 1.5x)`, bigFirst <= 1.5) +
        `; the folder's first open (round 1, its names read afresh): ` +
        `${big[0].firstRow} ms = ${ratio(big[0].firstRow, mid.panel[0].firstRow).toFixed(3)}x`
    );
    console.log(
      `  scroll to the last of ${FILES}: ${m(big, 'toEnd')} ms, longest task ` +
        judged(`${m(big, 'scrollTask')} ms (target < 400 ms)`, m(big, 'scrollTask') < 400)
    );
  } finally {
    if (browser) {
      await browser.close();
    }
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    if (server.exitCode === null && server.signalCode === null) {
      await new Promise(r => server.once('exit', r));
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
