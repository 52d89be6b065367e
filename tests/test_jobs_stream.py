"""The live log WebSocket against a real Ray head: every line once, in order, across
real upstream drops (a TCP proxy between the server and Ray's dashboard is cut mid-job)."""

from __future__ import annotations

import asyncio

import pytest
from tornado.httpclient import HTTPClientError

from jobs_helpers import JobsAPI, read_stream, write

pytestmark = pytest.mark.ray

COUNTDOWN = """
    import sys, time
    n, pause = int(sys.argv[1]), float(sys.argv[2])
    for i in range(n):
        print(f"tick {i:03d}", flush=True)
        time.sleep(pause)
    print("no newline at the end", end="", flush=True)
"""


@pytest.fixture
def api(jp_fetch):
    return JobsAPI(jp_fetch)


def check_lines(messages, expected, first=0):
    lines = [m for m in messages if m["type"] == "line"]
    driver = [m["line"] for m in lines if m["line"].startswith(("tick", "no newline"))]
    assert driver == expected
    assert [m["n"] for m in lines] == list(range(first, first + len(lines)))  # none lost or twice
    assert messages[0]["type"] == "status"
    assert messages[-1]["type"] == "end" and messages[-1]["status"] == "SUCCEEDED"


async def test_stream_delivers_every_line_once_in_order_then_ends(api, jp_ws_fetch, jp_root_dir):
    write(jp_root_dir / "proj" / "countdown.py", COUNTDOWN)
    job_id = (await api.submit(file="proj/countdown.py", args=["40", "0.05"])).json["submission_id"]
    messages = await read_stream(jp_ws_fetch, job_id)  # from PENDING on
    check_lines(messages, [f"tick {i:03d}" for i in range(40)] + ["no newline at the end"])
    statuses = [m["status"] for m in messages if m["type"] == "status"]
    assert statuses[0] in ("PENDING", "RUNNING") and len(statuses) == len(set(statuses))

    # a finished job replays whole, its lines in a few messages; a client resuming after
    # line n-1 passes from=n
    wire = []
    replay = await read_stream(jp_ws_fetch, job_id, wire=wire)
    assert [m for m in replay if m["type"] == "line"] == [
        m for m in messages if m["type"] == "line"]
    assert {m["type"] for m in wire} == {"status", "lines", "end"}
    assert len(wire) < 10 < len(replay)
    resumed = await read_stream(jp_ws_fetch, job_id, **{"from": 5})
    assert [m for m in resumed if m["type"] == "line"] == [
        m for m in messages if m["type"] == "line"][5:]


async def test_stream_of_unknown_job_says_so(jp_ws_fetch):
    messages = await read_stream(jp_ws_fetch, "raysubmit_nope")
    assert [m["type"] for m in messages] == ["error"]
    assert messages[0]["code"] == 404 and "raysubmit_nope" in messages[0]["message"]


async def test_stream_needs_authentication(jp_ws_fetch):
    with pytest.raises(HTTPClientError) as err:
        await jp_ws_fetch("ray-dev", "api", "jobs", "raysubmit_x", "logs", "stream",
                          headers={"Authorization": ""})
    assert err.value.code == 403


class CuttableProxy:
    """TCP proxy to Ray's dashboard whose connections can be severed on demand (RST)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.connections: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.severed = 0
        self.tails = 0  # Ray log-tail WebSockets opened through the proxy

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader, writer):
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        pair = (writer, up_writer)
        self.connections.add(pair)

        async def pipe(src, dst):
            try:
                while data := await src.read(65536):
                    if src is reader and b"/logs/tail" in data and b"Upgrade" in data:
                        self.tails += 1
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self.connections.discard(pair)

    def cut(self) -> None:
        for client_side, ray_side in list(self.connections):
            client_side.transport.abort()
            ray_side.transport.abort()
            self.severed += 1
        self.connections.clear()

    def close(self) -> None:
        self.cut()
        self.server.close()


class ThroughCuttableProxy:
    """The server reaches Ray through a CuttableProxy, which severs and counts its
    connections."""

    @pytest.fixture
    def proxy(self, ray_head, jp_asyncio_loop):
        proxy = CuttableProxy(ray_head.dashboard_port)
        proxy.port = jp_asyncio_loop.run_until_complete(proxy.start())
        yield proxy
        proxy.close()

    @pytest.fixture
    def ray_address(self, ray_head, proxy, monkeypatch):
        monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
        return f"http://127.0.0.1:{proxy.port}"


class TestUpstreamDrops(ThroughCuttableProxy):
    async def test_stream_resumes_after_ray_connection_drops(self, api, jp_ws_fetch,
                                                            jp_root_dir, proxy):
        write(jp_root_dir / "proj" / "countdown.py", COUNTDOWN)
        # 60 ticks of 0.2 s: the last cut (tick 022) comes ~7 s before the job ends, well
        # beyond Ray's 1 s tail polling plus our reconnect back-off, so every cut hits a
        # running job and must be followed by a reconnect (CI once saw the job end first)
        job_id = (await api.submit(file="proj/countdown.py", args=["60", "0.2"])
                  ).json["submission_id"]
        cuts_at = {"tick 005", "tick 014", "tick 022"}  # lines Ray sends in different chunks
        severed_at_cut = []

        def on_line(message):
            if message["line"] in cuts_at:
                proxy.cut()  # Ray's log WebSocket dies mid-job, as in ray#57002
                severed_at_cut.append(proxy.severed)

        messages = await read_stream(jp_ws_fetch, job_id, on_line=on_line)
        check_lines(messages, [f"tick {i:03d}" for i in range(60)] + ["no newline at the end"])
        assert len(severed_at_cut) == 3 and severed_at_cut[0] >= 1  # live connections were cut
        assert proxy.tails >= 4  # the first tail, then one reconnect per cut


class TestLocalDriverLog(ThroughCuttableProxy):
    """JupyterLab on the head node: the driver's log file is read in place, not through
    Ray's once-a-second tail (the proxy counts the tails Ray is asked for: none)."""

    @pytest.fixture
    def ray_dev_config(self, ray_head):
        return {"ray_temp_dir": str(ray_head.temp_dir)}

    async def test_lines_come_from_the_local_file_every_one_once(self, api, jp_ws_fetch,
                                                                jp_root_dir, proxy):
        write(jp_root_dir / "proj" / "countdown.py", COUNTDOWN)
        job_id = (await api.submit(file="proj/countdown.py", args=["30", "0.05"])
                  ).json["submission_id"]
        messages = await read_stream(jp_ws_fetch, job_id)
        check_lines(messages, [f"tick {i:03d}" for i in range(30)] + ["no newline at the end"])
        assert proxy.tails == 0
        # and the text is Ray's, line for line (its own full log of the same job)
        log = await api.logs(job_id)
        assert [m["line"] for m in messages if m["type"] == "line"] == log.split("\n")
