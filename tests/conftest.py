"""Shared fixtures: a real local Ray head per session, and the Jupyter server with the extension.

No mocks: the extension talks to a real Ray dashboard over loopback.
"""

from __future__ import annotations

import pytest
from ci import in_ci

from jupyter_ray_dev.cluster.local_head import LocalRayHead

# storage_fixtures: moto_server / gcp-storage-emulator; k8s_fixtures: a real kube-apiserver +
# etcd; promote_fixtures: buildah, a local base image and docker-registry; deploy_fixtures:
# the wheel, its wheelhouse and clean virtualenvs; each started only by the tests that use them
pytest_plugins = ["pytest_jupyter.jupyter_server", "hang_report", "storage_fixtures", "k8s_fixtures",
                  "promote_fixtures", "deploy_fixtures"]

HEAD_CPUS = 2
HEAD_GPUS = 1  # declared, not detected: lets the tests cover GPU accounting without a GPU
HEAD_CUSTOM = {"my_custom": 4}


def s3_env(endpoint: str) -> dict[str, str]:
    """What Ray's processes need to read s3:// from moto (boto3 and smart_open take these)."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def ray_head(moto_server):
    # The runtime_env agent downloads an s3:// working_dir in the head's own processes, so
    # their environment is fixed at start: the one session head reads S3 from moto rather
    # than a second head for the runtime_env tests (one head at a time on this machine).
    head = LocalRayHead(num_cpus=HEAD_CPUS, num_gpus=HEAD_GPUS, resources=HEAD_CUSTOM,
                        env=s3_env(moto_server.url))
    head.start()
    yield head
    head.stop()


@pytest.fixture
def ray_address(ray_head, monkeypatch):
    """Where the server under test looks for Ray; override in a test module to point elsewhere."""
    for key, value in ray_head.client_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    return ray_head.dashboard_url


@pytest.fixture
def ray_dev_config():
    """Extra ``c.RayDev`` settings for one test."""
    return {}


@pytest.fixture
def jp_server_config(ray_address, ray_dev_config):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_ray_dev": True}},
        "RayDev": {"ray_address": ray_address, **ray_dev_config},
    }


# -- a CI run fails when any test was skipped ---------------------------------------------------
# A skip says a part was missing; on a user's machine that may be true and the reason is
# printed, but on CI (which installs every part) a skip would pass what was never tested.


_skipped: list[tuple[str, str]] = []


def _skip_reason(report: pytest.CollectReport | pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:  # an xfail counts too: in CI it hides a test as a skip does
        _skipped.append((report.nodeid, _skip_reason(report)))


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped:  # a whole module skipped at collection (pytestmark, importorskip)
        _skipped.append((report.nodeid, _skip_reason(report)))


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _skipped and in_ci():
        terminalreporter.write_sep("=", f"{len(_skipped)} skipped in CI: the run fails",
                                   red=True, bold=True)
        for nodeid, reason in _skipped:
            terminalreporter.write_line(f"SKIPPED {nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and in_ci() and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
