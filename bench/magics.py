"""Benchmark (not a test): what the notebook face adds over calling the core directly.

Starts a private Ray head, then prints, as medians over interleaved rounds:

1. ``%ray_status`` in IPython vs ``await service.cluster()`` on a loop of its own: the
   cost of the private loop (blocking.py) plus IPython's run_cell and display (target
   ratio <= 1.10), and the private loop's hop alone;
2. ``%%ray_job`` (write the cell, submit, stream to the end) vs the jobs core's
   ``submit`` of the same code as a .py file (edited each round, as a cell is) + following
   its log (target ratio <= 1.15).

    python bench/magics.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_ray_dev import blocking  # noqa: E402
from jupyter_ray_dev.cluster.local_head import LocalRayHead  # noqa: E402
from jupyter_ray_dev.magics import load  # noqa: E402
from jupyter_ray_dev.service import RayDevConfig, RayDevService  # noqa: E402

CODE = "print('hello', 6 * 7)\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--status-rounds", type=int, default=30)
    options = parser.parse_args()
    rounds = options.rounds
    from IPython.testing.globalipapp import get_ipython

    with LocalRayHead(num_cpus=2) as head, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "proj").mkdir()
        (root / "proj" / "direct.py").write_text(CODE)
        config = RayDevConfig(ray_address=head.dashboard_url, root_dir=str(root),
                              job_store_path=str(root / "jobs.sqlite"),
                              ray_temp_dir=str(head.temp_dir))
        import os

        os.environ.update(head.client_env())
        os.chdir(root / "proj")
        service = RayDevService(config)  # the magics' (its loop: the portal's)
        direct = RayDevService(config)  # the baseline's (its loop: one asyncio.run loop)
        ip = get_ipython()
        load(ip, lambda: service)

        async def direct_job() -> None:
            # new code each time, as a user resubmitting an edited cell: Ray cannot reuse
            # the previous working_dir package, exactly as for a new cell
            (root / "proj" / "direct.py").write_text(f"{CODE}# {time.time_ns()}\n")
            job = await direct.jobs.submit({"file": "proj/direct.py"})
            async for _ in direct.jobs.follow(job["submission_id"]):
                pass

        loop = asyncio.new_event_loop()
        status_magic, status_direct, job_magic, job_direct = [], [], [], []
        status_portal = []
        ip.run_cell("%ray_status")  # warm both: imports, first connections
        loop.run_until_complete(direct.cluster())
        for _ in range(options.status_rounds):
            t = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                ip.run_cell("%ray_status")
            status_magic.append(time.perf_counter() - t)
            t = time.perf_counter()
            loop.run_until_complete(direct.cluster())
            status_direct.append(time.perf_counter() - t)
            t = time.perf_counter()
            blocking.call(service.cluster)
            status_portal.append(time.perf_counter() - t)
        for _ in range(rounds):
            t = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                result = ip.run_cell(f"%%ray_job\n{CODE}")
            assert result.success, result.error_in_exec
            job_magic.append(time.perf_counter() - t)
            t = time.perf_counter()
            loop.run_until_complete(direct_job())
            job_direct.append(time.perf_counter() - t)
        loop.run_until_complete(direct.close())
        blocking.call(service.close)
        os.chdir(Path(__file__).parent)  # out of the temp dir before it goes

    def report(name: str, ours: list[float], base: list[float], target: float) -> None:
        a, b = statistics.median(ours), statistics.median(base)
        print(f"{name}: magic {a * 1000:.0f} ms, core directly {b * 1000:.0f} ms, "
              f"ratio {a / b:.2f} (target <= {target})")

    report("%ray_status", status_magic, status_direct, 1.10)
    report("  of which the private loop (blocking.call)", status_portal, status_direct, 1.10)
    report("%%ray_job to SUCCEEDED", job_magic, job_direct, 1.15)


if __name__ == "__main__":
    main()
