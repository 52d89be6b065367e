"""The magics in a real ipykernel (through jupyter_client), whose own asyncio loop is running:
the case the private loop (blocking.py) exists for. Configured as a kernel started by the
server is: the server's config files, and its root in $RAY_DEV_ROOT_DIR."""

from __future__ import annotations

import json
import os
import queue

import pytest

from kernel_messages import take_iopub

pytestmark = pytest.mark.ray


@pytest.fixture
def kernel(ray_head, tmp_path):
    from jupyter_client.manager import start_new_kernel

    root = tmp_path / "root"
    (root / "proj").mkdir(parents=True)
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.json").write_text(json.dumps({"RayDev": {
        "ray_temp_dir": str(ray_head.temp_dir), "job_store_path": str(tmp_path / "j.sqlite")}}))
    env = {**os.environ, **ray_head.client_env(), "JUPYTER_CONFIG_DIR": str(config_dir),
           "RAY_DEV_ROOT_DIR": str(root)}
    env.pop("RAY_AUTH_TOKEN", None)
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(root / "proj"))
    client.manager = manager  # to interrupt it as JupyterLab's stop button does
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)  # the kernel process we started, by its handle


def execute(client, code: str, timeout: float = 240.0) -> dict:
    """Run ``code``; collect stdout, the result's mime bundle, and any error."""
    msg_id = client.execute(code)
    out = {"stdout": "", "stderr": "", "data": None, "error": None}
    while True:
        try:
            msg = client.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no answer from the kernel for {code!r}; so far: {out}")
        if take_iopub(out, msg, msg_id):
            return out


def test_magics_in_a_real_kernel(kernel):
    assert execute(kernel, "%load_ext jupyter_ray_dev")["error"] is None
    status = execute(kernel, "%ray_status")
    assert status["error"] is None, status
    assert "<table" in status["data"]["text/html"] and "CPU" in status["data"]["text/plain"]
    job = execute(kernel, "%%ray_job\nprint('from the kernel', 1 + 1)\n")
    assert job["error"] is None, job
    assert "from the kernel 2" in job["stdout"] and "SUCCEEDED" in job["stdout"]
    job_id = json.loads(job["data"]["text/plain"].replace("'", '"'))
    assert job_id.startswith("raysubmit_")
    # the cell ran from the kernel's project, inside the root the server passed down
    jobs = execute(kernel, "_r = %ray_jobs\nprint(_r.data[0]['file'])")
    assert jobs["stdout"].startswith("proj/ray_cell_job_")
    # a core error is one readable line (ipykernel prints a UsageError on stderr)
    failed = execute(kernel, "%ray_logs raysubmit_nosuchjob")
    assert "UsageError: " in failed["stderr"] and "raysubmit_nosuchjob" in failed["stderr"]
    assert "Traceback" not in failed["stderr"]


def test_interrupting_the_kernel_asks_then_stops_the_job(kernel):
    """A real kernel interrupt (SIGINT from the kernel manager) during %%ray_job: the
    kernel asks on stdin, the answer "y" stops the job and the cell shows it."""
    assert execute(kernel, "%load_ext jupyter_ray_dev")["error"] is None
    msg_id = kernel.execute("%%ray_job\nimport time\nprint('tripwire-armed', flush=True)\n"
                            "time.sleep(600)\n", allow_stdin=True)
    stdout, prompt, interrupted = "", None, False
    while True:
        msg = kernel.get_iopub_msg(timeout=240)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        content = msg["content"]
        if msg["msg_type"] == "stream" and content["name"] == "stdout":
            stdout += content["text"]
            if "tripwire-armed" in stdout and not interrupted:
                interrupted = True
                kernel.manager.interrupt_kernel()
                request = kernel.get_stdin_msg(timeout=60)
                prompt = request["content"]["prompt"]
                kernel.input("y")
        elif msg["msg_type"] == "status" and content["execution_state"] == "idle":
            break
    job_id = stdout.split("Submitted Ray job ", 1)[1].split()[0]
    assert prompt == f"Stop Ray job {job_id}? [y/N] "
    assert f"Job {job_id}: STOPPED" in stdout
