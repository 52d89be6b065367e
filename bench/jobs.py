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
   at least 9 pairs, interleaved, the same script: submit-to-driver-start (the driver's
   first statement stamps the time) and driver-end-to-job-end, medians and the median of
   the pairs' differences (target: start <= 100 ms more);
5. jobs with one pip dependency (a wheel on a package index on loopback), Run -> the
   driver's first output line (the driver prints once it has imported the package), three
   ways: Ray's ``pip`` runtime_env (the first run of a requirement set, and again with Ray's
   virtualenv cached), our install onto shared storage (PYTHONPATH in env_vars), and the
   same project without the dependency; medians, interleaved (target: shared storage <=
   1.2x no dependencies).

    python bench/jobs.py [--rounds 5] [--streams 20] [--stream-runs 5]
                         [--only compare|streams|record|deps]
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
                 env: dict[str, str] | None = None, ray_dev: dict | None = None) -> None:
        self.port, self.token = free_port(), secrets.token_hex(8)
        env = {**os.environ, **head.client_env(), **(env or {})}
        config = root / f".bench_config-{self.port}.json"
        # loop_monitor (bench/): how long each loop callback held the loop, in CPU time
        extensions = {"jpserver_extensions": {"jupyter_ray_dev": True, "loop_monitor": True}}
        config.write_text(json.dumps({"ServerApp": extensions, "RayDev": ray_dev or {}}))
        cmd = [sys.executable, "-m", "jupyter", "server", "--no-browser", "--allow-root",
               f"--port={self.port}", "--ip=127.0.0.1", f"--IdentityProvider.token={self.token}",
               f"--ServerApp.root_dir={root}", f"--RayDev.ray_address={head.dashboard_url}",
               f"--RayDev.job_store_path={root}/.jobs-{self.port}.sqlite", f"--config={config}",
               # JupyterLab on the head node, as on KubeRay: driver logs are read in place
               f"--RayDev.ray_temp_dir={head.temp_dir}", *extra]
        here = Path(__file__).resolve().parent
        env["PYTHONPATH"] = os.pathsep.join([str(here.parent), str(here)])
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


async def run(lab: Lab, head: LocalRayHead, project: Path, args: argparse.Namespace
              ) -> None:
    rounds, only = args.rounds, args.only
    from ray.job_submission import JobSubmissionClient

    client = JobSubmissionClient(head.dashboard_url)
    if only in (None, "compare"):
        await compare(lab, client, project, rounds)
    if only in (None, "streams"):
        await many_streams(lab, args.streams, args.stream_runs, args.wide)
    if only in (None, "record"):
        plain = Lab(head, project.parent, "--RayDev.record_runs=False")
        try:
            await recording_cost(lab, plain, rounds)
        finally:
            plain.stop()
    if only in (None, "deps"):
        await dependencies_lab(head, project.parent, rounds)


async def dependencies_lab(head: LocalRayHead, root: Path, rounds: int) -> None:
    """A server whose pip (the shared-storage install) uses the loopback index too."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from promote_helpers import build_wheel

    build_wheel(root / ".dep-src", root / ".index" / "simple" / DEP, name=DEP)
    server, index = serve_index(root / ".index")
    (root / ".shared").mkdir()
    lab = Lab(head, root, f"--RayDev.shared_roots={root / '.shared'}",
              env={"PIP_INDEX_URL": index})
    try:
        await dependencies(lab, root, index, rounds)
    finally:
        lab.stop()
        server.shutdown()  # type: ignore[attr-defined]


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
    """Each round starts a job on both servers, in alternating order; the judged figure is
    the median of the rounds' differences: a job's start swings by +-100 ms with Ray's own
    work, more than the launcher costs, and a pair shares the moment's load."""
    for lab in (recording, plain):  # warm: imports, the launcher's first upload, caches
        await start_and_end(lab)
    rounds = max(rounds, 9)
    starts: dict[bool, list[float]] = {True: [], False: []}
    ends: dict[bool, list[float]] = {True: [], False: []}
    for i in range(rounds):
        for recorded in ((True, False) if i % 2 else (False, True)):
            start, end = await start_and_end(recording if recorded else plain)
            starts[recorded].append(start)
            ends[recorded].append(end)
    for label, times, note in (
            ("job start", starts, "target <= +100ms"),
            ("job end  ", ends, "the record of what was installed and imported, written when "
                                "the driver ends")):
        diff = statistics.median(a - b for a, b in zip(times[True], times[False]))
        verdict = f" {'OK' if diff <= 0.1 else 'OVER'}" if label == "job start" else ""
        print(f"{label}        recorded median {statistics.median(times[True]) * 1000:.0f}ms  "
              f"not recorded median {statistics.median(times[False]) * 1000:.0f}ms  over "
              f"{rounds} pairs  median difference {diff * 1000:+.0f}ms ({note}){verdict}")


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


class Follow:
    """One live log stream: the stamps' delays, and whether every line came once, in order
    (line numbers contiguous from 0, the driver's stamps consecutive)."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self.next_line = 0
        self.last_stamp = -1
        self.faults = 0

    def take(self, message: dict) -> None:
        lines = message.get("lines")
        if lines is None:
            return
        if message["n"] != self.next_line:
            self.faults += 1
        self.next_line = message["n"] + len(lines)
        now = time.time()
        for line in lines:
            if line.startswith("stamp"):
                _, i, t = line.split()
                if int(i) != self.last_stamp + 1:
                    self.faults += 1
                self.last_stamp = int(i)
                self.delays.append(now - float(t))


async def follow_checked(lab: Lab, job_id: str, follow: Follow) -> None:
    from tornado.websocket import websocket_connect

    ws = await websocket_connect(lab.url(f"/ray-dev/api/jobs/{job_id}/logs/stream", "ws"))
    while (raw := await ws.read_message()) is not None:
        follow.take(json.loads(raw))


async def stream_round(lab: Lab, jobs_n: int, streams_n: int
                       ) -> tuple[list[list[float]], list[list[float]], int, int]:
    """``jobs_n`` printing drivers, first unwatched, then with ``streams_n`` live streams
    over them (round-robin): (probe unwatched, probe watched, lines, faults)."""
    jobs = [await http(lab, "POST", "/ray-dev/api/jobs",
                       {"file": "proj/stamper.py", "args": ["600", "0.1"]})
            for _ in range(jobs_n)]
    try:
        for job in jobs:  # same cluster load in both measurements: every driver printing
            while (await http(lab, "GET", f"/ray-dev/api/jobs/{job['submission_id']}")
                   )["status"] != "RUNNING":
                await asyncio.sleep(0.2)
        await asyncio.sleep(4)
        unwatched = await probe(lab)
        follows = [Follow() for _ in range(streams_n)]
        followers = [asyncio.ensure_future(
            follow_checked(lab, jobs[i % jobs_n]["submission_id"], f))
            for i, f in enumerate(follows)]
        deadline = time.monotonic() + 120
        while sum(1 for f in follows if f.delays) < streams_n:  # every stream delivers
            if time.monotonic() > deadline:
                raise RuntimeError("not every stream delivered lines within 2 minutes")
            await asyncio.sleep(0.2)
        before = sum(len(f.delays) for f in follows)
        await http(lab, "GET", "/bench/loop?reset=1")
        watched = await probe(lab)
        held = await http(lab, "GET", "/bench/loop")
        lines = sum(len(f.delays) for f in follows) - before
    finally:
        for j in jobs:
            await http(lab, "POST", f"/ray-dev/api/jobs/{j['submission_id']}/stop", {})
    await asyncio.gather(*followers, return_exceptions=True)
    return list(unwatched), list(watched), lines, sum(f.faults for f in follows), held


def describe_held(held: dict) -> str:
    top = held["longest"][0] if held["longest"] else {"cpu_ms": 0, "wall_ms": 0, "where": "-"}
    return (f"loop: {held['callbacks']} callbacks, {held['slow']} over 50ms of CPU, longest "
            f"{top['cpu_ms']:.0f}ms CPU ({top['wall_ms']:.0f}ms wall) in {top['where']}; "
            f"longest in wall time {held['longest_wall']['wall_ms']:.0f}ms "
            f"({held['longest_wall']['cpu_ms']:.0f}ms CPU)")


def load() -> str:
    """The machine's load: on a shared machine the latencies below measure it too."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


async def many_streams(lab: Lab, streams: int, runs: int, wide: int) -> None:
    print(f"live log streams: {load()}")
    idle = await probe(lab, 60)
    print(f"GET /cluster       no jobs {describe(idle[0])}; GET /openapi.json no jobs "
          f"{describe(idle[1])}")
    p99s: dict[str, list[float]] = {"/cluster": [], "/openapi.json": []}
    medians: dict[str, list[float]] = {"/cluster": [], "/openapi.json": []}
    cpu_max: list[float] = []
    for r in range(runs):
        unwatched, watched, lines, faults, held = await stream_round(lab, streams, streams)
        cpu_max.append(held["longest"][0]["cpu_ms"] if held["longest"] else 0.0)
        for i, name in enumerate(p99s):
            p99s[name].append(quantile(watched[i], 0.99))
            medians[name].append(quantile(watched[i], 0.5))
        print(f"  run {r + 1}: {streams} jobs printing: /cluster {describe(unwatched[0])}, "
              f"/openapi.json {describe(unwatched[1])}; + {streams} live streams ({lines} "
              f"lines while measuring, {faults} lost/duplicated/out of order): /cluster "
              f"{describe(watched[0])}, /openapi.json {describe(watched[1])}; "
              f"{describe_held(held)}; {load()}", flush=True)
    for name in p99s:
        worst = max(p99s[name])
        print(f"GET {name:<14} {streams} jobs + {streams} live log streams, {runs} runs: "
              f"median p50 {statistics.median(medians[name]) * 1000:.0f}ms, median p99 "
              f"{statistics.median(p99s[name]) * 1000:.0f}ms, worst p99 {worst * 1000:.0f}ms "
              f"(target worst p99 < 50ms) {'OK' if worst < 0.05 else 'OVER'}")
    print(f"longest loop callback while streaming, {runs} runs: worst {max(cpu_max):.0f}ms "
          f"of CPU (the server's own hold on the loop, whatever the machine's load; "
          f"target < 50ms) {'OK' if max(cpu_max) < 50 else 'OVER'}")
    if wide:
        _, watched, lines, faults, held = await stream_round(lab, streams, wide)
        print(f"{wide} live log streams over {streams} printing jobs ({lines} lines while "
              f"measuring, {faults} lost/duplicated/out of order): GET /cluster "
              f"{describe(watched[0])}, GET /openapi.json {describe(watched[1])}; "
              f"{describe_held(held)}")


async def first_line(lab: Lab, file: str) -> float:
    """Run -> the driver's first output line (it stamps the time once it has imported
    what it needs)."""
    begun = time.time()
    job = await http(lab, "POST", "/ray-dev/api/jobs", {"file": file})
    job_url = f"/ray-dev/api/jobs/{job['submission_id']}"
    while (done := await http(lab, "GET", job_url))["status"] not in ("SUCCEEDED", "FAILED"):
        await asyncio.sleep(0.05)
    from tornado.httpclient import AsyncHTTPClient

    log = (await AsyncHTTPClient().fetch(lab.url(f"{job_url}/logs"))).body.decode()
    assert done["status"] == "SUCCEEDED", (done["message"], log[-2000:])
    stamp = float(next(ln for ln in log.splitlines() if ln.startswith("started")).split()[1])
    return stamp - begun


DEP = "rdbenchdep"
DEP_MAIN = f"import time\nimport {DEP}\nprint(f'started {{time.time():.6f}}', flush=True)\n"


def serve_index(folder: Path) -> tuple[object, str]:
    """A PEP 503 index of ``folder``'s wheels on loopback (the tests' own kind)."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/simple/"


async def install_shared(lab: Lab, project: str) -> None:
    from tornado.httpclient import AsyncHTTPClient

    response = await AsyncHTTPClient().fetch(
        lab.url(f"/ray-dev/api/projects/{project}/install"), method="POST", body="{}",
        headers={"Content-Type": "application/json"}, request_timeout=300)
    assert b"event: done" in response.body, response.body[-2000:]


async def dependencies(lab: Lab, root: Path, index: str, rounds: int) -> None:
    def project(name: str, env: str) -> str:
        (root / name).mkdir(exist_ok=True)
        (root / name / "main.py").write_text(DEP_MAIN if env else STARTER)
        if env:
            (root / name / "runtime_env.yaml").write_text(env)
        return f"{name}/main.py"

    def pip_env(requirement: str) -> str:
        return (f"pip:\n  packages: [\"{requirement}\"]\n"
                f"  pip_install_options: [--index-url, \"{index}\"]\n")

    nodeps = project("nodeps", "")
    cached = project("pipcached", pip_env(DEP))
    shared = project("shared", pip_env(DEP))
    await install_shared(lab, "shared")  # once, as a user does; then every job uses it
    for file in (nodeps, cached, shared):  # warm: Ray's virtualenv of `cached`, uploads
        await first_line(lab, file)
    times: dict[str, list[float]] = {"none": [], "shared": [], "cached": [], "first": []}
    for i in range(rounds):
        order = [("none", nodeps), ("shared", shared), ("cached", cached)]
        for kind, file in order if i % 2 else order[::-1]:
            times[kind].append(await first_line(lab, file))
        if i < max(2, rounds // 2):  # a requirement set Ray has not seen: a new virtualenv
            times["first"].append(await first_line(
                lab, project(f"pipfirst{i}", pip_env(f"{DEP}!=0.0.{i}"))))
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = med["shared"] / med["none"]
    print(f"Run -> first line, one pip dependency from a loopback index (medians): no "
          f"dependencies {med['none']:.2f}s; shared-storage install {med['shared']:.2f}s "
          f"({ratio:.2f}x); Ray pip cached {med['cached']:.2f}s "
          f"({med['cached'] / med['none']:.2f}x); Ray pip first run {med['first']:.2f}s "
          f"({med['first'] / med['none']:.1f}x) (target shared <= 1.2x) "
          f"{'OK' if ratio <= 1.2 else 'OVER'}")
    print(f"  shared-storage worst {max(times['shared']):.2f}s, no dependencies worst "
          f"{max(times['none']):.2f}s over {rounds}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--stream-runs", type=int, default=5,
                        help="runs of the live-streams measure (the worst p99 is the target)")
    parser.add_argument("--wide", type=int, default=100,
                        help="live streams over the same jobs for the wide figure (0: skip)")
    parser.add_argument("--only", choices=["compare", "streams", "record", "deps"],
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
            asyncio.run(run(lab, head, project, args))
        finally:
            if lab:
                lab.stop()
            head.stop()


if __name__ == "__main__":
    main()
