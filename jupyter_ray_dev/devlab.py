"""``make lab``: JupyterLab with the extension on an embedded default.

Starts a private local Ray head (unless RAY_ADDRESS names a running cluster),
creates the local artifacts folder, runs ``jupyter lab`` with any extra
arguments given after ``--``, and stops the head by its PID when Lab exits.

    python -m jupyter_ray_dev.devlab [--root DIR] [--artifacts DIR] [-- <jupyter lab args>]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

from .cluster.local_head import LocalRayHead


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_ray_dev.devlab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=".lab/workspace", help="Jupyter root folder")
    parser.add_argument("--artifacts", default=".lab/artifacts", help="local artifacts folder")
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray head")
    parser.add_argument("lab_args", nargs="*", help="passed to `jupyter lab` (after --)")
    args = parser.parse_args(argv)

    root = Path(args.root).resolve()
    artifacts = Path(args.artifacts).resolve()
    root.mkdir(parents=True, exist_ok=True)
    artifacts.mkdir(parents=True, exist_ok=True)

    env = dict(os.environ)
    head = None
    if env.get("RAY_ADDRESS"):
        print(f"[ray-dev] Using the Ray cluster at RAY_ADDRESS={env['RAY_ADDRESS']}", flush=True)
    else:
        print("[ray-dev] Starting a local Ray head (about 15 s)...", flush=True)
        # RAY_AUTH_TOKEN, when set, is the head's token: a second Lab (the UI tests' outage
        # server) can then reach this head once it is given its address
        head = LocalRayHead(num_cpus=args.num_cpus, token_auth=True,
                            token=env.get("RAY_AUTH_TOKEN") or None).start()
        env.update(head.client_env())
        print(f"[ray-dev] Ray head up: dashboard {head.dashboard_url} (token auth on, "
              f"pid {head.process.pid}, logs {head.log_path})", flush=True)
    env["RAY_DEV_ARTIFACTS"] = str(artifacts)
    print(f"[ray-dev] Artifacts folder: {artifacts}", flush=True)

    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root}", "--no-browser"]
    if head is not None:
        # the head's logs are on this machine: job logs are read from the driver's file
        cmd.append(f"--RayDev.ray_temp_dir={head.temp_dir}")
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    cmd += args.lab_args
    lab = subprocess.Popen(cmd, env=env)

    def forward(signum: int, _frame: object) -> None:
        lab.send_signal(signum)

    # Ctrl-C reaches Lab (which asks to confirm); SIGTERM from a supervisor ends it too.
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        return lab.wait()
    finally:
        if lab.poll() is None:
            lab.terminate()
            lab.wait(30)
        if head is not None:
            print("[ray-dev] Stopping the local Ray head", flush=True)
            head.stop()


if __name__ == "__main__":
    sys.exit(main())
