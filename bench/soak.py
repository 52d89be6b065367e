"""Soak (a benchmark, not a test): many users at once against a real server, Ray head and moto.

Bounded in time and count, loopback only. A Jupyter server with the extension runs as a child
process (its RSS and file descriptors are read from outside); ``--users`` simulated users
browse storage (local and S3 on moto: listings, previews, stats, chunked uploads read back),
read and validate a project's runtime_env and poll the cluster and job list, each with a
think time, while ``--streams`` jobs at a time print numbered lines that are followed live
over the log WebSocket (a stream that drops is resumed with ``?from=``). Prints:

- requests served, 5xx count (target 0) and other unexpected replies;
- p50/p99 per route (target p99 < 100 ms for reads; measured at the client, so the
  client's own event loop is in the figure);
- log lines lost or duplicated over every followed job (target 0);
- the server's RSS and open file descriptors after warm-up and at the end (target RSS
  growth < 50 MB; fds back where they were).

    python bench/soak.py [--users 50] [--minutes 10] [--streams 20] [--json]

With ``--ray-address``/``--ray-temp-dir``/``--s3-endpoint`` it uses a running head and moto
instead of starting its own (the short variant in tests/test_soak.py does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import types
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from jobs import Lab, describe_held, http, quantile  # noqa: E402

from jupyter_ray_dev.cluster.local_head import LocalRayHead, free_port, stop_jobs  # noqa: E402

BUCKET = "soak"
S3_OPTIONS = {"key": "testing", "secret": "testing"}
PRINTER = """
import sys, time
n, pause = int(sys.argv[1]), float(sys.argv[2])
for i in range(n):
    print(f"L {i}", flush=True)
    time.sleep(pause)
"""
LINE = re.compile(r"^L (\d+)$")
READS = ("list", "preview", "stat", "cluster", "jobs", "env read")
FILES = 40  # per storage root, previewed and stat-ed at random


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.codes: dict[str, Counter[int]] = defaultdict(Counter)
        self.unexpected: list[str] = []
        self.lost = self.duplicated = self.lines = self.jobs_followed = self.reconnects = 0
        self.corrupt_uploads = 0

    def served(self) -> int:
        return sum(sum(c.values()) for c in self.codes.values())

    def server_errors(self) -> int:
        return sum(n for c in self.codes.values() for code, n in c.items() if code >= 500)


SUBMITTED: set[str] = set()  # stopped at the end, so no driver outlives the run


class Client:
    """The REST API with the server's token; every reply is timed under its route's name."""

    def __init__(self, lab: Lab, stats: Stats) -> None:
        import aiohttp

        self.lab, self.stats = lab, stats
        self.session = aiohttp.ClientSession(
            base_url=f"http://127.0.0.1:{lab.port}",
            headers={"Authorization": f"token {lab.token}"},
            timeout=aiohttp.ClientTimeout(total=120))

    async def call(self, route: str, method: str, path: str, *, expect: tuple[int, ...] = (200,),
                   **kwargs) -> tuple[int, bytes]:
        start = time.perf_counter()
        try:
            async with self.session.request(method, path, **kwargs) as response:
                body = await response.read()
                code = response.status
        except Exception as err:  # a dropped connection counts as a server error
            body, code = repr(err).encode(), 599
        self.stats.latency[route].append(time.perf_counter() - start)
        self.stats.codes[route][code] += 1
        if code not in expect and len(self.stats.unexpected) < 20:
            self.stats.unexpected.append(f"{route} {method} {path} -> {code} {body[:200]!r}")
        return code, body

    async def close(self) -> None:
        await self.session.close()


async def user(client: Client, n: int, deadline: float, rng: random.Random) -> None:
    storage = "/ray-dev/api/storage"
    uploads = 0

    async def upload() -> None:
        nonlocal uploads
        root = rng.choice(("local", "s3"))
        data = rng.randbytes(rng.choice((1_000, 64_000, 300_000)))
        path = f"uploads/u{n}-{uploads}.bin"
        uploads += 1
        code, body = await client.call("upload start", "POST", f"{storage}/{root}/uploads",
                                       json={"path": path, "size": len(data)}, expect=(201,))
        if code != 201:
            return
        upload_id = json.loads(body)["upload_id"]
        step = 128_000
        for start in range(0, len(data), step):
            part = data[start:start + step]
            code, _ = await client.call(
                "upload chunk", "PUT", f"{storage}/{root}/uploads/{upload_id}", data=part,
                headers={"Content-Range": f"bytes {start}-{start + len(part) - 1}/{len(data)}"})
            if code != 200:
                return
        code, _ = await client.call("upload commit", "POST",
                                    f"{storage}/{root}/uploads/{upload_id}/commit", json={},
                                    expect=(200, 201))
        if code in (200, 201):
            code, back = await client.call("download", "GET", f"{storage}/{root}/download",
                                           params={"path": path})
            if code == 200 and back != data:
                client.stats.corrupt_uploads += 1

    actions = [
        (5, lambda r: client.call("list", "GET", f"{storage}/{r}/list", params={"path": "data"})),
        (4, lambda r: client.call("preview", "GET", f"{storage}/{r}/preview",
                                  params={"path": f"data/f{rng.randrange(FILES)}.csv"})),
        (2, lambda r: client.call("stat", "GET", f"{storage}/{r}/stat",
                                  params={"path": f"data/f{rng.randrange(FILES)}.csv"})),
        (3, lambda r: client.call("cluster", "GET", "/ray-dev/api/cluster")),
        (2, lambda r: client.call("jobs", "GET", "/ray-dev/api/jobs")),
        (3, lambda r: client.call("env read", "GET", "/ray-dev/api/projects/proj/runtime-env")),
        (2, lambda r: client.call("env validate", "POST",
                                  "/ray-dev/api/projects/proj/runtime-env/validate",
                                  json={"runtime_env": {"pip": ["requests==2.32.3"],
                                                        "env_vars": {"N": str(n)}}})),
        (1, lambda r: upload()),
    ]
    weights = [w for w, _ in actions]
    if n < 0:  # the warm-up: every action once on each root
        for _, action in actions:
            for root in ("local", "s3"):
                await action(root)
        return
    await asyncio.sleep(rng.uniform(0, 2))  # users arrive over two seconds, not at once
    while time.monotonic() < deadline:
        _, action = rng.choices(actions, weights)[0]
        await action(rng.choice(("local", "s3")))
        await asyncio.sleep(rng.uniform(0.5, 1.5))  # a person's think time


async def follow(client: Client, job_id: str, expected: int) -> None:
    """Follow one job's log to its end (resuming a dropped socket from the next line) and
    count its numbered lines lost or seen twice."""
    import aiohttp

    seen: Counter[int] = Counter()
    numbers: Counter[int] = Counter()
    next_line, ended = 0, False
    url = f"/ray-dev/api/jobs/{job_id}/logs/stream"
    while not ended:
        try:
            async with client.session.ws_connect(url, params={"from": str(next_line)},
                                                 heartbeat=30) as ws:
                async for msg in ws:
                    if msg.type != aiohttp.WSMsgType.TEXT:
                        break
                    event = json.loads(msg.data)
                    if event["type"] == "lines":
                        for i, line in enumerate(event["lines"]):
                            numbers[event["n"] + i] += 1
                            if m := LINE.match(line):
                                seen[int(m.group(1))] += 1
                        next_line = event["n"] + len(event["lines"])
                    elif event["type"] == "end":
                        ended = True
                    elif event["type"] == "error":
                        client.stats.unexpected.append(f"log stream {job_id}: {event}")
                        ended = True
        except aiohttp.ClientError as err:
            client.stats.unexpected.append(f"log stream {job_id}: {err!r}")
        if not ended:
            client.stats.reconnects += 1
            await asyncio.sleep(0.5)
    client.stats.jobs_followed += 1
    client.stats.lines += sum(seen.values())
    client.stats.lost += sum(1 for i in range(expected) if i not in seen)
    client.stats.duplicated += sum(c - 1 for c in seen.values()) + \
        sum(c - 1 for c in numbers.values())


async def job_slot(client: Client, deadline: float, lines: int, pause: float) -> None:
    """One of the live streams: a job at a time, submitted again until the deadline."""
    while time.monotonic() < deadline:
        code, body = await client.call(
            "job submit", "POST", "/ray-dev/api/jobs", expect=(200, 201),
            json={"file": "proj/printer.py", "args": [str(lines), str(pause)]})
        if code not in (200, 201):
            await asyncio.sleep(2)
            continue
        SUBMITTED.add(json.loads(body)["submission_id"])
        await follow(client, json.loads(body)["submission_id"], lines)


def server_usage(pid: int) -> tuple[float, int]:
    import psutil

    proc = psutil.Process(pid)
    return proc.memory_info().rss / 2**20, proc.num_fds()


async def soak(lab: Lab, users: int, seconds: float, streams: int, lines: int,
               pause: float, seed: int) -> dict:
    stats = Stats()
    client = Client(lab, stats)
    rng = random.Random(seed)
    try:
        # warm-up: every action once and one job to its end, so first-use imports, caches and
        # pools are in the "start" figures rather than counted as growth
        await user(client, -1, time.monotonic(), random.Random(seed - 1))
        await job_slot(client, time.monotonic() + 0.1, 5, 0.01)
        await asyncio.sleep(2)
        rss0, fds0 = server_usage(lab.proc.pid)
        await http(lab, "GET", "/bench/loop?reset=1")
        stats = client.stats = Stats()
        started = time.monotonic()
        deadline = started + seconds
        tasks = [user(client, i, deadline, random.Random(seed + i)) for i in range(users)]
        tasks += [job_slot(client, deadline, lines, pause) for _ in range(streams)]
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
        held = await http(lab, "GET", "/bench/loop")
    finally:
        await client.close()
    await asyncio.sleep(3)  # closed sockets and finished streams are released
    rss1, fds1 = server_usage(lab.proc.pid)
    routes = {name: {"count": len(v), "p50_ms": quantile(v, 0.5) * 1000,
                     "p99_ms": quantile(v, 0.99) * 1000,
                     "5xx": sum(n for c, n in stats.codes[name].items() if c >= 500)}
              for name, v in sorted(stats.latency.items())}
    return {"users": users, "streams": streams, "seconds": round(elapsed, 1),
            "requests": stats.served(), "server_errors": stats.server_errors(),
            "unexpected": stats.unexpected, "routes": routes,
            "jobs_followed": stats.jobs_followed, "lines": stats.lines, "lost": stats.lost,
            "duplicated": stats.duplicated, "reconnects": stats.reconnects,
            "corrupt_uploads": stats.corrupt_uploads,
            "rss_mb": [round(rss0, 1), round(rss1, 1)], "fds": [fds0, fds1], "loop": held}


def report(r: dict) -> None:
    print(f"soak: {r['users']} users, {r['streams']} live log streams, {r['seconds']:.0f} s")
    print(f"requests served  {r['requests']}  ({r['requests'] / r['seconds']:.1f}/s)  5xx "
          f"{r['server_errors']} (target 0)  other unexpected {len(r['unexpected'])}")
    for name, route in r["routes"].items():
        target = ""
        if name in READS:
            target = " (target p99 < 100 ms) " + ("OK" if route["p99_ms"] < 100 else "OVER")
        print(f"  {name:<14} n={route['count']:<6} p50 {route['p50_ms']:6.1f} ms  p99 "
              f"{route['p99_ms']:7.1f} ms  5xx {route['5xx']}{target}")
    print(f"log lines        {r['lines']} over {r['jobs_followed']} jobs  lost {r['lost']}  "
          f"duplicated {r['duplicated']} (target 0)  stream resumes {r['reconnects']}")
    print(f"uploads read back different: {r['corrupt_uploads']}")
    growth = r["rss_mb"][1] - r["rss_mb"][0]
    print(f"server RSS       {r['rss_mb'][0]:.0f} MB -> {r['rss_mb'][1]:.0f} MB "
          f"({growth:+.0f} MB, target < 50) {'OK' if growth < 50 else 'OVER'}")
    print(f"server fds       {r['fds'][0]} -> {r['fds'][1]}")
    # a p99 over target with no callback holding the loop is the machine's, not the server's
    print(f"server {describe_held(r['loop'])}")
    other = r["loop"].get("other_loops") or {}
    if other.get("cpu_ms"):
        print(f"  (longest callback on a library's own loop thread: {other['cpu_ms']:.0f}ms CPU "
              f"({other['wall_ms']:.0f}ms wall) in {other['where']})")
    for line in r["unexpected"][:10]:
        print("  unexpected:", line)


def start_moto(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=(workdir / "moto.log").open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1).read()
            return proc, url
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("moto_server did not start") from None
            time.sleep(0.2)


def seed_files(root: Path, s3_endpoint: str, prefix: str) -> None:
    import s3fs

    rows = "\n".join(f"{i},{i * i},name{i}" for i in range(200))
    (root / "store" / "data").mkdir(parents=True)
    (root / "store" / "uploads").mkdir()
    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint, skip_instance_cache=True, **S3_OPTIONS)
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    fs.pipe_file(f"{BUCKET}/{prefix}/uploads/", b"")
    for i in range(FILES):
        text = f"a,b,c\n{rows}\n"
        (root / "store" / "data" / f"f{i}.csv").write_text(text)
        fs.pipe_file(f"{BUCKET}/{prefix}/data/f{i}.csv", text.encode())
    project = root / "proj"
    project.mkdir()
    (project / "printer.py").write_text(PRINTER)
    (project / "runtime_env.yaml").write_text("env_vars:\n  SOAK: '1'\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--lines", type=int, default=400, help="lines each job prints")
    parser.add_argument("--pause", type=float, default=0.1, help="seconds between lines")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--ray-address", help="a running head's dashboard URL")
    parser.add_argument("--ray-temp-dir", help="that head's --temp-dir (driver logs)")
    parser.add_argument("--s3-endpoint", help="a running moto_server")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    own_head = own_moto = lab = head = None
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        root = Path(tmp)
        try:
            if args.ray_address:
                head = types.SimpleNamespace(
                    dashboard_url=args.ray_address, temp_dir=args.ray_temp_dir,
                    client_env=lambda: {"RAY_ADDRESS": args.ray_address,
                                        "RAY_AUTH_MODE": "disabled"})
            else:
                head = own_head = LocalRayHead(num_cpus=2).start()
            s3 = args.s3_endpoint
            if not s3:
                own_moto, s3 = start_moto(root)
            prefix = f"run-{os.getpid()}"
            seed_files(root, s3, prefix)
            roots = [{"name": "local", "url": str(root / "store")},
                     {"name": "s3", "url": f"s3://{BUCKET}/{prefix}",
                      "options": {**S3_OPTIONS, "endpoint_url": s3}}]
            lab = Lab(head, root, ray_dev={"storage_roots": roots})
            result = asyncio.run(soak(lab, args.users, args.minutes * 60, args.streams,
                                      args.lines, args.pause, args.seed))
        finally:
            if head and SUBMITTED:  # through Ray's job API, before anything stops
                stop_jobs(head.dashboard_url, only=sorted(SUBMITTED))
            if lab:
                lab.stop()
            if own_moto and own_moto.poll() is None:
                os.kill(own_moto.pid, signal.SIGTERM)
                own_moto.wait(10)
            if own_head:
                own_head.stop()
    print(json.dumps(result) if args.json else "", end="\n" if args.json else "")
    if not args.json:
        report(result)


if __name__ == "__main__":
    main()
