"""Benchmark (not a test): JupyterLab server start-up with and without jupyter_ray_dev.

Both variants run in the same session, interleaved, so machine noise hits them
alike; the result is a ratio of medians. Target: <= 1.05.

    python bench/startup.py [--rounds 7]

Start-up = from process launch to the first answered ``GET /api/status``. Also printed:
the ratio of the fastest starts (noise only ever adds time), and of the CPU time the
server used until it answered (what the extension itself costs, whatever the machine's
load: on a shared machine the wall times measure the other processes too).
The extension is switched off for the baseline through ``jpserver_extensions``
in a config file given with ``--config``.

The package's bytecode is compiled first, as pip does when it installs the wheel: in an
editable install under ``PYTHONDONTWRITEBYTECODE=1`` (this machine's environment) every
start would otherwise compile the extension's source again, while every other package
loads its ``.pyc``, which charges the extension about twice its import time.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_once(enabled: bool, root: str, proxy_in_baseline: bool = True) -> tuple[float, float]:
    port, token = free_port(), secrets.token_hex(8)
    config = os.path.join(root, f"bench_config_{'with' if enabled else 'without'}.json")
    extensions = {"jupyter_ray_dev": enabled}
    if not (enabled or proxy_in_baseline):
        extensions["jupyter_server_proxy"] = False
    with open(config, "w") as f:
        json.dump({"ServerApp": {"jpserver_extensions": extensions}}, f)
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--config={config}", "--allow-root",
    ]
    env = {**os.environ, "RAY_ADDRESS": "http://127.0.0.1:9"}  # no Ray needed to start
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/api/status?token={token}"
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode()[-2000:])
            try:
                with urllib.request.urlopen(url, timeout=1):
                    elapsed = time.perf_counter() - start
                    cpu = cpu_seconds(proc.pid)
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.02)
    finally:
        proc.terminate()
        log = proc.communicate(timeout=20)[1].decode(errors="replace")
    # the extension logs its Ray address when it loads: proof each variant is what it claims
    if ("jupyter_ray_dev: Ray dashboard at" in log) != enabled:
        raise RuntimeError(f"extension {'not ' if enabled else ''}loaded in this variant:\n{log[-2000:]}")
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    # jupyter-server-proxy (a dependency, for the dashboard proxy) enables its own server
    # extension, which imports aiohttp: a Jupyter without this package has neither
    parser.add_argument("--without-proxy", action="store_true",
                        help="switch jupyter_server_proxy off in the baseline too")
    args = parser.parse_args()
    package = importlib.util.find_spec("jupyter_ray_dev").submodule_search_locations[0]
    compileall.compile_dir(package, quiet=1)
    with tempfile.TemporaryDirectory() as root:
        start_once(True, root)  # warm the file cache for both variants
        start_once(False, root, not args.without_proxy)
        times: dict[bool, list[float]] = {True: [], False: []}
        cpu: dict[bool, list[float]] = {True: [], False: []}
        for i in range(args.rounds):
            for enabled in ((True, False) if i % 2 else (False, True)):
                wall, used = start_once(enabled, root, not args.without_proxy)
                times[enabled].append(wall)
                cpu[enabled].append(used)
    without, with_ = statistics.median(times[False]), statistics.median(times[True])
    print(f"server start-up without jupyter_ray_dev: median {without:.3f}s, fastest "
          f"{min(times[False]):.3f}s, CPU median {statistics.median(cpu[False]):.2f}s over "
          f"{args.rounds}")
    print(f"server start-up with    jupyter_ray_dev: median {with_:.3f}s, fastest "
          f"{min(times[True]):.3f}s, CPU median {statistics.median(cpu[True]):.2f}s over "
          f"{args.rounds}")
    ratio = with_ / without
    one, five, _ = os.getloadavg()
    print(f"ratio with/without: {ratio:.3f} (target <= 1.05) {'OK' if ratio <= 1.05 else 'OVER'}"
          f"; fastest {min(times[True]) / min(times[False]):.3f}; CPU "
          f"{statistics.median(cpu[True]) / statistics.median(cpu[False]):.3f} (load average "
          f"{one:.1f}, {five:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
