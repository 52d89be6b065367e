"""Benchmark (not a test): jobs through jupyter_ray_dev vs Ray's own Job Submission client.

Starts a private Ray head and a Jupyter server with the extension, then prints:

1. submit-to-RUNNING: ``POST /ray-dev/api/jobs`` + polling our ``GET /jobs/<id>`` vs
   ``JobSubmissionClient.submit_job`` + ``get_job_status``, interleaved, same script and
   working_dir, ratio of medians (target <= 1.10);
2. line latency: one driver prints timestamped lines; our WebSocket and Ray's own
   ``tail_job_logs`` follow the same job at the same time; ratio of median
   print-to-arrival delays (target <= 1.10);
3. 20 jobs streaming logs at once through our WebSocket: p50/p99 of
   ``GET /ray-dev/api/cluster`` meanwhile, and without streams for reference (target
   p99 < 50 ms);
4. the run recorder's cost: two servers on the same head, one running drivers through
   the recording launcher (the default), one with ``c.RayDev.record_runs = False``;
   interleaved, the same script: submit-to-driver-start (the driver's first statement
   stamps the time) and driver-end-to-job-end, medians and their difference (target:
   start <= 100 ms more).

    python bench/jobs.py [--rounds 5] [--streams 20] [--only compare|streams|record]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyter_ray_dev.cluster.local_head import LocalRayHead, free_port  # noqa: E402

SLEEPER = "import time\nprint('up', flush=True)\ntime.sleep(600)\n"
STAMPER = """
import sys, time
n, pause = int(sys.argv[1]), float(sys.argv[2])
time.sleep(3)  # let both followers attach first
for i in range(n):
    print(f"stamp {i} {time.time():.6f}", flush=True)
    time.sleep(pause)
"""


STARTER = "import time\nprint(f'started {time.time():.6f}', flush=True)\n"


class Lab:
    """A Jupyter server with the extension, as a child process."""

    def __init__(self, head: LocalRayHead, root: Path, *extra: str,
                 ray_dev: dict | None = None) -> None:
        self.port, self.token = free_port(), secrets.token_hex(8)
        env = {**os.environ, **head.client_env()}
        config = root / f".bench_config-{self.port}.json"
        extensions = {"jpserver_extensions": {"jupyter_ray_dev": True}}
        config.write_text(json.dumps({"ServerApp": extensions, "RayDev": ray_dev or {}}))
        cmd = [sys.executable, "-m", "jupyter", "server", "--no-browser", "--allow-root",
               f"--port={self.port}", "--ip=127.0.0.1", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={root}", f"--RayDev.ray_address={head.dashboard_url}",
               f"--RayDev.job_store_path={root}/.jobs-{self.port}.sqlite", f"--config={config}",
               # JupyterLab on the head node, as on KubeRay: driver logs are read in place
               f"--RayDev.ray_temp_dir={head.temp_dir}", *extra]
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url("/api/status"), timeout=1).read()
                return
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("Jupyter server did not start") from None
                time.sleep(0.2)

    def url(self, path: str, scheme: str = "http") -> str:
        sep = "&" if "?" in path else "?"
        return f"{scheme}://127.0.0.1:{self.port}{path}{sep}token={self.token}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


async def http(lab: Lab, method: str, path: str, body: object = None) -> dict:
    from tornado.httpclient import AsyncHTTPClient

    response = await AsyncHTTPClient().fetch(
        lab.url(path), method=method, body=None if body is None else json.dumps(body),
        headers={"Content-Type": "application/json"}, request_timeout=120)
    return json.loads(response.body) if response.body else {}


async def submit_to_running_ours(lab: Lab) -> float:
    start = time.perf_counter()
    job = await http(lab, "POST", "/ray-dev/api/jobs", {"file": "proj/sleeper.py"})
    job_url = f"/ray-dev/api/jobs/{job['submission_id']}"
    while (await http(lab, "GET", job_url))["status"] != "RUNNING":
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - start
    await http(lab, "POST", f"/ray-dev/api/jobs/{job['submission_id']}/stop", {})
    return elapsed


def submit_to_running_ray(client, project: Path) -> float:
    start = time.perf_counter()
    job_id = client.submit_job(entrypoint="python sleeper.py",
                               runtime_env={"working_dir": str(project)})
    while client.get_job_status(job_id) != "RUNNING":
        time.sleep(0.05)
    elapsed = time.perf_counter() - start
    client.stop_job(job_id)
    return elapsed


async def follow_ours(lab: Lab, job_id: str, delays: list[float]) -> None:
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(lab.url(f"/ray-dev/api/jobs/{job_id}/logs/stream", "ws"))
    while (raw := await ws.read_message()) is not None:
        message = json.loads(raw)
        now = time.time()
        for line in message.get("lines", ()):
            if line.startswith("stamp"):
                delays.append(now - float(line.split()[2]))


async def follow_ray(client, job_id: str, delays: list[float]) -> None:
    async for chunk in client.tail_job_logs(job_id):
        now = time.time()
        for line in chunk.splitlines():
            if line.startswith("stamp"):
                delays.append(now - float(line.split()[2]))


def quantile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(int(q * len(values)), len(values) - 1)]


def describe(values: list[float]) -> str:
    return f"p50 {quantile(values, 0.5) * 1000:.0f}ms p99 {quantile(values, 0.99) * 1000:.0f}ms"


async def run(lab: Lab, head: LocalRayHead, project: Path, rounds: int, streams: int,
              only: str | None) -> None:
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(head.dashboard_url)
    if only in (None, "compare"):
        await compare(lab, client, project, rounds)
    if only in (None, "streams"):
        await many_streams(lab, streams)
    if only in (None, "record"):
        plain = Lab(head, project.parent, "--RayDev.record_runs=False")
        try:
            await recording_cost(lab, plain, rounds)
        finally:
            plain.stop()


async def start_and_end(lab: Lab) -> tuple[float, float]:
    """(submit -> the driver's first statement, the driver's last -> Ray's end time)."""
    begun = time.time()
    job = await http(lab, "POST", "/ray-dev/api/jobs", {"file": "proj/starter.py"})
    job_url = f"/ray-dev/api/jobs/{job['submission_id']}"
    while (done := await http(lab, "GET", job_url))["status"] not in ("SUCCEEDED", "FAILED"):
        await asyncio.sleep(0.05)
    assert done["status"] == "SUCCEEDED", done["message"]
    from tornado.httpclient import AsyncHTTPClient

    log = (await AsyncHTTPClient().fetch(lab.url(f"{job_url}/logs"))).body.decode()
    stamp = float(next(ln for ln in log.splitlines() if ln.startswith("started")).split()[1])
    return stamp - begun, done["end_time"] - stamp


async def recording_cost(recording: Lab, plain: Lab, rounds: int) -> None:
    for lab in (recording, plain):  # warm: imports, the launcher's first upload, caches
        await start_and_end(lab)
    starts: dict[bool, list[float]] = {True: [], False: []}
    ends: dict[bool, list[float]] = {True: [], False: []}
    for i in range(rounds):
        for recorded in ((True, False) if i % 2 else (False, True)):
            start, end = await start_and_end(recording if recorded else plain)
            starts[recorded].append(start)
            ends[recorded].append(end)
    on, off = statistics.median(starts[True]), statistics.median(starts[False])
    print(f"job start        recorded median {on * 1000:.0f}ms  not recorded median "
          f"{off * 1000:.0f}ms  over {rounds}  difference {(on - off) * 1000:+.0f}ms ratio "
          f"{on / off:.3f} (target <= +100ms) {'OK' if on - off <= 0.1 else 'OVER'}")
    on, off = statistics.median(ends[True]), statistics.median(ends[False])
    print(f"job end          recorded median {on * 1000:.0f}ms  not recorded median "
          f"{off * 1000:.0f}ms  difference {(on - off) * 1000:+.0f}ms (the record of what "
          "was installed and imported, written when the driver ends)")


async def compare(lab: Lab, client, project: Path, rounds: int) -> None:
    await submit_to_running_ours(lab)  # warm both paths (imports, first package upload)
    await asyncio.to_thread(submit_to_running_ray, client, project)
    ours, ray = [], []
    for i in range(rounds):
        for mine in ((True, False) if i % 2 else (False, True)):
            if mine:
                ours.append(await submit_to_running_ours(lab))
            else:
                ray.append(await asyncio.to_thread(submit_to_running_ray, client, project))
    o, r = statistics.median(ours), statistics.median(ray)
    print(f"submit->RUNNING  ours median {o:.3f}s  ray median {r:.3f}s  over {rounds} "
          f"ratio {o / r:.3f} (target <= 1.10) {'OK' if o / r <= 1.10 else 'OVER'}")

    job = await http(lab, "POST", "/ray-dev/api/jobs",
                     {"file": "proj/stamper.py", "args": ["20", "0.3"]})
    ours_d: list[float] = []
    ray_d: list[float] = []
    await asyncio.gather(follow_ours(lab, job["submission_id"], ours_d),
                         follow_ray(client, job["submission_id"], ray_d))
    o, r = statistics.median(ours_d), statistics.median(ray_d)
    print(f"line latency     ours median {o * 1000:.0f}ms  ray median {r * 1000:.0f}ms  over "
          f"{len(ours_d)}/{len(ray_d)} lines  ratio {o / r:.3f} (target <= 1.10) "
          f"{'OK' if o / r <= 1.10 else 'OVER'}")



PROBE = """
import json, sys, time, urllib.request
url, count = sys.argv[1], int(sys.argv[2])
out = []
for _ in range(count):
    start = time.perf_counter()
    urllib.request.urlopen(url, timeout=30).read()
    out.append(time.perf_counter() - start)
    time.sleep(0.05)
print(json.dumps(out))
"""


async def probe(lab: Lab, count: int = 100) -> tuple[list[float], list[float]]:
    """Latencies of GET /cluster and of GET /openapi.json (ours, no Ray: the server's own
    share), each measured by its own process so the bench's stream readers cannot skew it."""

    async def one(path: str) -> list[float]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", PROBE, lab.url(path), str(count),
            stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        return json.loads(out)

    cluster, own = await asyncio.gather(one("/ray-dev/api/cluster"),
                                        one("/ray-dev/api/openapi.json"))
    return cluster, own


async def many_streams(lab: Lab, streams: int) -> None:
    idle = await probe(lab, 60)
    jobs = [await http(lab, "POST", "/ray-dev/api/jobs",
                       {"file": "proj/stamper.py", "args": ["600", "0.1"]})
            for _ in range(streams)]
    for job in jobs:  # same cluster load in both measurements: every driver printing
        while (await http(lab, "GET", f"/ray-dev/api/jobs/{job['submission_id']}")
               )["status"] != "RUNNING":
            await asyncio.sleep(0.2)
    await asyncio.sleep(4)
    unwatched = await probe(lab)
    sinks: list[list[float]] = [[] for _ in jobs]
    followers = [asyncio.ensure_future(follow_ours(lab, j["submission_id"], s))
                 for j, s in zip(jobs, sinks, strict=True)]
    while sum(1 for s in sinks if s) < streams:  # every stream is delivering lines
        await asyncio.sleep(0.2)
    before = sum(len(s) for s in sinks)
    watched = await probe(lab)
    lines = sum(len(s) for s in sinks) - before
    for j in jobs:
        await http(lab, "POST", f"/ray-dev/api/jobs/{j['submission_id']}/stop", {})
    await asyncio.gather(*followers, return_exceptions=True)
    p99 = quantile(watched[0], 0.99)
    print(f"GET /cluster       no jobs {describe(idle[0])}; {streams} jobs printing "
          f"{describe(unwatched[0])}; same jobs + {streams} live log streams ({lines} lines "
          f"while measuring) {describe(watched[0])} (target p99 < 50ms) "
          f"{'OK' if p99 < 0.05 else 'OVER'}")
    print(f"GET /openapi.json  no jobs {describe(idle[1])}; {streams} jobs printing "
          f"{describe(unwatched[1])}; + live log streams {describe(watched[1])}  "
          "(no Ray involved: the server's own share)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--only", choices=["compare", "streams", "record"],
                        help="run one part")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        project = root / "proj"
        project.mkdir()
        (project / "sleeper.py").write_text(SLEEPER)
        (project / "stamper.py").write_text(STAMPER)
        (project / "starter.py").write_text(STARTER)
        head = LocalRayHead(num_cpus=2).start()
        lab = None
        try:
            lab = Lab(head, root)
            asyncio.run(run(lab, head, project, args.rounds, args.streams, args.only))
        finally:
            if lab:
                lab.stop()
            head.stop()


if __name__ == "__main__":
    main()
