"""The Ray head dies and a new one comes up on the same ports, while the panel polls, jobs run
and a log streams: the server is not restarted, and the user loses nothing it had seen.

A private head (the session's one stays up for the other tests): killed with SIGKILL to its
own process group (a crash, not a clean stop), then a new head on the same GCS and
dashboard ports, as KubeRay restarts a head pod behind the same service.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal

import pytest

from jobs_helpers import JobsAPI, driver_lines, write
from jupyter_ray_dev.cluster.local_head import LocalRayHead, _wait_group_gone

pytestmark = [pytest.mark.ray, pytest.mark.faults]

PANEL_POLL = 5.0  # the Ray panel's default refresh interval (src/polling.ts)
PRINTER = """
    import sys, time
    n, pause = int(sys.argv[1]), float(sys.argv[2])
    for i in range(n):
        print(f"line {i}", flush=True)
        time.sleep(pause)
"""


@pytest.fixture
def ray_head():
    """This test's own head, in place of the session's (conftest's ray_address uses it)."""
    head = LocalRayHead(num_cpus=1).start()
    yield head
    head.stop()


def crash(head: LocalRayHead) -> None:
    """Every process of the head's group killed at once (ours: we started it)."""
    pid = head.process.pid
    os.killpg(pid, signal.SIGKILL)
    head.process.wait(10)
    _wait_group_gone(pid, 20)


def restart_on_same_ports(old: LocalRayHead) -> None:
    """A new head where the old one was: same GCS and dashboard ports, a fresh temp dir."""
    for attempt in range(3):  # Ray's own 30 s start-up limit can pass on a loaded machine
        new = LocalRayHead(num_cpus=1, dashboard_port=old.dashboard_port)
        new.gcs_port = old.gcs_port
        try:
            new.start(attempts=1)  # its own second attempt would move to other ports
            break
        except RuntimeError:
            if attempt == 2:
                raise
    old.temp_dir, old.process, old.log_path = new.temp_dir, new.process, new.log_path


async def cluster(jp_fetch) -> tuple[int, dict]:
    from tornado.httpclient import HTTPClientError

    try:
        reply = await jp_fetch("ray-dev", "api", "cluster")
    except HTTPClientError as err:
        return err.code, json.loads(err.response.body)
    return reply.code, json.loads(reply.body)


async def answered(jp_fetch, polls: int = 12) -> dict:
    """The cluster summary once a poll gets it (a just-started head on a loaded machine may
    miss a poll or two); fails after ``polls`` panel polls."""
    for _ in range(polls):
        code, body = await cluster(jp_fetch)
        if code == 200:
            return body
        await asyncio.sleep(PANEL_POLL)
    raise AssertionError(f"GET /cluster never answered: {code} {body}")


async def test_head_dies_and_comes_back(ray_head, jp_fetch, jp_ws_fetch, jp_root_dir):
    head, api = ray_head, JobsAPI(jp_fetch)
    write(jp_root_dir / "proj" / "printer.py", PRINTER)
    await answered(jp_fetch)

    done = (await api.submit(file="proj/printer.py", args=["5", "0"])).json["submission_id"]
    assert (await api.wait(done))["status"] == "SUCCEEDED"
    assert driver_lines(await api.logs(done), "line") == [f"line {i}" for i in range(5)]

    # a job printing for minutes, its log followed live
    running = (await api.submit(file="proj/printer.py", args=["100000", "0.05"])
               ).json["submission_id"]
    await api.wait(running, {"RUNNING"})
    await api.call("GET")  # the panel's job list saw it running
    ws = await jp_ws_fetch("ray-dev", "api", "jobs", running, "logs", "stream")
    streamed: list[str] = []
    while len(driver_lines("\n".join(streamed), "line")) < 10:
        message = json.loads(await asyncio.wait_for(ws.read_message(), 60))
        streamed += message.get("lines", [])

    crash(head)

    # the panel's next poll, one interval later, says Ray is unreachable and names where
    await asyncio.sleep(PANEL_POLL)
    code, body = await cluster(jp_fetch)
    assert (code, body["reason"]) == (503, "ray_unreachable"), body
    assert head.dashboard_url.removeprefix("http://") in body["message"]

    # the stream does not hang: it ends with a message saying what happened, once Ray is
    # back and does not know the job (or after a minute of Ray away, with the 503)
    ending = asyncio.ensure_future(_rest_of_stream(ws, streamed))
    restart_on_same_ports(head)

    # recovered without restarting the server: the next polls find the new head
    assert (await answered(jp_fetch))["alive_nodes"] == 1

    last = await asyncio.wait_for(ending, 120)  # a hang guard, not a time to meet
    assert last["type"] == "error", last
    if last["code"] == 404:  # the new head answered first: it does not know the job
        assert "restarted" in last["message"] and running in last["message"]
    else:  # a slow new head: the stream gave up waiting for Ray first, and said so
        assert (last["code"], last["reason"]) == (503, "ray_unreachable"), last

    # the history keeps both jobs with their last known status and their logs
    jobs = {j["submission_id"]: j for j in (await api.call("GET")).json["jobs"]}
    assert jobs[done]["status"] == "SUCCEEDED" and not jobs[done]["known_to_ray"]
    assert jobs[running]["status"] == "RUNNING" and not jobs[running]["known_to_ray"]
    assert "did not finish" in jobs[running]["message"]
    assert jobs[done]["can_rerun"] and jobs[running]["can_rerun"]
    assert driver_lines(await api.logs(done), "line") == [f"line {i}" for i in range(5)]
    # every line the stream delivered before Ray went away, in order
    kept = driver_lines(await api.logs(running), "line")
    assert kept == driver_lines("\n".join(streamed), "line")
    assert kept[:10] == [f"line {i}" for i in range(10)]

    # and the new head runs jobs as before
    again = (await api.submit(file="proj/printer.py", args=["3", "0"])).json["submission_id"]
    assert (await api.wait(again))["status"] == "SUCCEEDED"


async def _rest_of_stream(ws, streamed: list[str]) -> dict:
    while True:
        raw = await ws.read_message()
        assert raw is not None, "the stream closed without a last message"
        message = json.loads(raw)
        streamed += message.get("lines", [])
        if message["type"] in ("end", "error"):
            return message
