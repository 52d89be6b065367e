"""Reading a kernel's iopub replies to one execution, for the tests that run cells in a real
kernel (a blocking client in test_magics_kernel, an async one in test_notebook_installs)."""

from __future__ import annotations


def take_iopub(out: dict, msg: dict, msg_id: str) -> bool:
    """Adds ``msg``, when it answers the execution ``msg_id``, to ``out``: stream text under
    its name, an error as ``ename: evalue``, a result's mime bundle where ``out`` has a
    ``data`` key. True once the kernel is idle again: the execution is done."""
    if msg["parent_header"].get("msg_id") != msg_id:
        return False
    kind, content = msg["msg_type"], msg["content"]
    if kind == "stream":
        out[content["name"]] += content["text"]
    elif kind == "execute_result" and "data" in out:
        out["data"] = content["data"]
    elif kind == "error":
        out["error"] = f"{content['ename']}: {content['evalue']}"
    elif kind == "status" and content["execution_state"] == "idle":
        return True
    return False
