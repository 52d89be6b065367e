"""Benchmark (not a test): the storage API against its baselines, as ratios in one run.

    python bench/storage.py [--files 100000] [--objects 20000] [--rounds 5] [--ray]

1. A local folder of --files empty files: the first page (500 entries) through
   ``GET /ray-dev/api/storage/<root>/list`` vs jupyter-server's own
   ``GET /api/contents/<dir>`` on the same folder. Target: ours >= 20x faster.
2. The full paged walk of that folder through our API (pages of 500; 500 then 2,000
   as the Storage panel pages; pages of 5,000) vs a bare ``os.scandir`` + ``stat``
   loop in this process. Target: <= 1.5x at 500 a page, <= 2x for the others. The
   client is a browser's: it keeps the login cookie and decodes each page (stdlib json).
3. An S3 prefix of --objects objects on moto_server: our first page (500) vs one
   raw boto3 ``list_objects_v2`` call with the same page size. Target: <= 1.5x.
4. ``GET /ray-dev/api/cluster`` latency while walks of the big folder run without
   pause (measured from another process). Target: p99 < 50 ms. Without --ray the
   cluster call answers 503 (Ray down) through the same async path; --ray starts
   a private local Ray head (about 15 s, 800 MB) for a real cluster summary.

Baselines and ours run interleaved round by round, so machine noise hits both;
each ratio is of medians. One Jupyter server (with the extension), one
moto_server, both on loopback and stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookies
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PAGE = 500
PANEL_NEXT_PAGE = 2000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """One keep-alive connection to the Jupyter server, as JupyterLab in a browser uses it:
    the token on every request, and the login cookie the server sets on the first (without
    it, jupyter-server signs and sets a new cookie on every request)."""

    def __init__(self, port: int, token: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.headers = {"Authorization": f"token {token}"}
        self.cookies = http.cookies.SimpleCookie()

    def get(self, url_path: str, **params: object) -> tuple[int, bytes]:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        self.conn.request("GET", url_path + ("?" + query if query else ""), headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        cookies = response.headers.get_all("Set-Cookie")
        if cookies:
            for cookie in cookies:
                self.cookies.load(cookie)
            self.headers["Cookie"] = "; ".join(f"{name}={morsel.value}"
                                               for name, morsel in self.cookies.items())
        return response.status, body

    def get_json(self, url_path: str, **params: object) -> dict:
        status, body = self.get(url_path, **params)
        if status != 200:
            raise RuntimeError(f"{url_path} {params}: {status} {body[:300]!r}")
        return json.loads(body)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def make_folder(path: Path, n: int) -> None:
    path.mkdir()
    for i in range(n):
        os.close(os.open(path / f"file_{i:06d}.txt", os.O_CREAT | os.O_WRONLY, 0o644))


def start_moto(log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    exe = Path(sys.executable).with_name("moto_server")
    proc = subprocess.Popen([str(exe), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT)
    wait_port(port, proc, "moto_server")
    return proc, f"http://127.0.0.1:{port}"


def wait_port(port: int, proc: subprocess.Popen, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not start")


def seed_s3(endpoint: str, bucket: str, prefix: str, n: int):
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="bench",
                      aws_secret_access_key="bench", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"{prefix}/obj_{i:06d}",
                                              Body=b""), range(n)))
    return s3


def start_server(root: Path, roots: list, env: dict,
                 list_process: bool = True) -> tuple[subprocess.Popen, int, str]:
    port, token = free_port(), secrets.token_hex(12)
    config = root / "bench_storage_config.json"
    config.write_text(json.dumps({
        "ServerApp": {"jpserver_extensions": {"jupyter_ray_dev": True}},
        "RayDev": {"storage_roots": roots, "storage_list_process": list_process},
    }))
    cmd = [sys.executable, "-m", "jupyter_server", "--no-browser", f"--port={port}",
           "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={root}", f"--config={config}", "--allow-root"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                            stderr=(root / "server.log").open("wb"))
    wait_port(port, proc, "jupyter server")
    client = Client(port, token)
    for _ in range(200):  # the port opens before the extension is ready
        try:
            client.get_json("/ray-dev/api/storage/roots")
            break
        except (RuntimeError, OSError, http.client.HTTPException):
            client = Client(port, token)
            time.sleep(0.1)
    return proc, port, token


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)  # by PID: only what we started
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def walk(client: Client, root: str, limit: int, next_limit: int | None = None) -> int:
    cursor, total = None, 0
    while True:
        page = client.get_json(f"/ray-dev/api/storage/{root}/list", path="", limit=limit,
                               cursor=cursor)
        total += len(page["entries"])
        cursor, limit = page["next_cursor"], next_limit or limit
        if not cursor:
            return total


def scandir_stat(path: Path) -> int:
    n = 0
    with os.scandir(path) as it:
        for entry in it:
            entry.stat(follow_symlinks=False)
            n += 1
    return n


def poll(port: int, token: str, seconds: float) -> None:
    """Child process: GET /ray-dev/api/cluster back to back; print latencies (ms) as JSON."""
    client = Client(port, token)
    out, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        start = time.perf_counter()
        client.get("/ray-dev/api/cluster")
        out.append((time.perf_counter() - start) * 1000)
        time.sleep(0.01)
    print(json.dumps(out))


def cluster_latency(port: int, token: str, seconds: float, load=None) -> list[float]:
    child = subprocess.Popen([sys.executable, __file__, "--poll", str(port), token,
                              str(seconds)], stdout=subprocess.PIPE)
    if load:
        end = time.monotonic() + seconds
        while time.monotonic() < end and child.poll() is None:
            load()
    out, _ = child.communicate(timeout=seconds + 60)
    return json.loads(out)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, ours: list[float], base: list[float], target: str, ok: bool,
           ratio: float) -> None:
    print(f"{name}: ours median {statistics.median(ours) * 1000:.1f} ms, baseline median "
          f"{statistics.median(base) * 1000:.1f} ms -> {ratio:.2f} ({target}) "
          f"{'OK' if ok else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--contents-rounds", type=int, default=3,
                        help="rounds of the (slow) contents API baseline")
    parser.add_argument("--ray", action="store_true", help="start a local Ray head for test 4")
    parser.add_argument("--no-list-process", action="store_true",
                        help="c.RayDev.storage_list_process = False (pages ahead on the pool)")
    parser.add_argument("--only", nargs="+", choices=["first", "walk", "s3", "loop"],
                        help="run only these parts (default: all)")
    parser.add_argument("--poll", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.poll:
        poll(int(args.poll[0]), args.poll[1], float(args.poll[2]))
        return

    with tempfile.TemporaryDirectory(prefix="raydev-bench-") as tmp:
        root = Path(tmp)
        print(f"creating {args.files} files...", flush=True)
        big = root / "big"
        make_folder(big, args.files)
        moto, endpoint = start_moto(root / "moto.log")
        head = None
        server = None
        try:
            print(f"putting {args.objects} objects on moto_server...", flush=True)
            s3 = seed_s3(endpoint, "bench", "prefix", args.objects)
            env = {**os.environ, "RAY_ADDRESS": f"http://127.0.0.1:{free_port()}"}
            if args.ray:
                sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
                from jupyter_ray_dev.cluster.local_head import LocalRayHead

                head = LocalRayHead(num_cpus=1).start()
                env.update(head.client_env())
            roots = [{"name": "big", "url": str(big)},
                     {"name": "s3", "url": "s3://bench/prefix",
                      "options": {"endpoint_url": endpoint, "key": "bench", "secret": "bench"}}]
            server, port, token = start_server(root, roots, env, not args.no_list_process)
            client = Client(port, token)
            run(args, client, big, s3, port, token)
        finally:
            if server is not None:
                stop(server)
            stop(moto)
            if head is not None:
                head.stop()


def run(args, client: Client, big: Path, s3, port: int, token: str) -> None:
    ours_first = lambda: client.get_json("/ray-dev/api/storage/big/list", path="",  # noqa: E731
                                          limit=PAGE)
    contents = lambda: client.get_json("/api/contents/big")  # noqa: E731
    parts = set(args.only or ["first", "walk", "s3", "loop"])
    assert len(ours_first()["entries"]) == PAGE
    if "first" in parts:
        first_page_vs_contents(args, ours_first, contents)
    if "walk" in parts:
        full_walk(args, client, big)
    if "s3" in parts:
        s3_first_page(args, client, s3)
    if "loop" in parts:
        loop_latency(args, client, port, token)


def first_page_vs_contents(args, ours_first, contents) -> None:
    assert len(contents()["content"]) == args.files  # same folder, all entries, warm cache
    ours, base = [], []
    for i in range(max(args.rounds, args.contents_rounds)):
        if i < args.contents_rounds:
            base.append(timed(contents))
        ours.append(timed(ours_first))
    ratio = statistics.median(base) / statistics.median(ours)
    report(f"1. first page of {PAGE} of {args.files} files vs GET /api/contents", ours, base,
           "speed-up, target >= 20", ratio >= 20, ratio)


def full_walk(args, client: Client, big: Path) -> None:
    # pages of 500 all the way; the Storage panel's own paging (src/storage/model.ts: a
    # first page of 500, then 2,000 at a time); and pages of 5,000
    for label, limit, next_limit in ((f"limit {PAGE}", PAGE, PAGE),
                                     (f"{PAGE} then {PANEL_NEXT_PAGE} (the panel's paging)",
                                      PAGE, PANEL_NEXT_PAGE),
                                     ("limit 5000", 5000, 5000)):
        assert walk(client, "big", limit, next_limit) == args.files
        ours, base = [], []
        for _ in range(args.rounds):
            base.append(timed(lambda: scandir_stat(big)))
            ours.append(timed(lambda: walk(client, "big", limit, next_limit)))  # noqa: B023
        ratio = statistics.median(ours) / statistics.median(base)
        target = 1.5 if next_limit == limit == PAGE else 2  # pages of 500: the tighter goal
        report(f"2. full walk, {label}, vs os.scandir + stat", ours, base,
               f"slow-down, target <= {target}", ratio <= target, ratio)
    # a walk right after another reuses the names its first page listed (NameCache); a
    # folder changed just now is listed afresh: the same walk, its first page cold
    cold, base = [], []
    for _ in range(args.rounds):
        base.append(timed(lambda: scandir_stat(big)))
        os.utime(big)
        cold.append(timed(lambda: walk(client, "big", PAGE, PAGE)))
    ratio = statistics.median(cold) / statistics.median(base)
    report(f"2. the same walk, limit {PAGE}, with the folder just changed (its names listed "
           "afresh), vs os.scandir + stat", cold, base, "slow-down, target <= 1.5",
           ratio <= 1.5, ratio)


def s3_first_page(args, client: Client, s3) -> None:
    s3_first = lambda: client.get_json("/ray-dev/api/storage/s3/list", path="",  # noqa: E731
                                        limit=PAGE)
    raw = lambda: s3.list_objects_v2(Bucket="bench", Prefix="prefix/", Delimiter="/",  # noqa
                                     MaxKeys=PAGE)
    assert len(s3_first()["entries"]) == PAGE and raw()["KeyCount"] == PAGE
    ours, base = [], []
    for _ in range(args.rounds * 2):
        base.append(timed(raw))
        ours.append(timed(s3_first))
    ratio = statistics.median(ours) / statistics.median(base)
    report(f"3. S3 first page of {PAGE} of {args.objects} objects vs boto3 list_objects_v2",
           ours, base, "slow-down, target <= 1.5", ratio <= 1.5, ratio)


def loop_latency(args, client: Client, port: int, token: str) -> None:
    """The event loop stays free while big folders are listed."""
    idle = cluster_latency(port, token, 3)
    busy = cluster_latency(port, token, 6, load=lambda: walk(client, "big", PAGE))
    p99 = pct(busy, 0.99)
    print(f"4. GET /ray-dev/api/cluster while walking {args.files} files: p50 "
          f"{pct(busy, 0.5):.1f} ms, p99 {p99:.1f} ms, max {max(busy):.1f} ms over {len(busy)} "
          f"calls (idle p99 {pct(idle, 0.99):.1f} ms) (target p99 < 50 ms) "
          f"{'OK' if p99 < 50 else 'MISSED'}")


if __name__ == "__main__":
    main()
