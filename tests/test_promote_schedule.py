"""Scheduled promotions (the RayCronJob variant) and the History Server options, without a Ray
head: the schedule's checks and next runs, the manifests against KubeRay's CRD schemas, and
the 400s a bad schedule or zone gets through REST, the CLI (exit 2) and %ray_promote.

The plans use a literal cluster summary of the dashboard's shape (as test_k8s_promote does):
the manifests are pure functions of it. The bad-input paths are refused before Ray is asked,
so their Ray address is a closed port.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from promote_helpers import SUMMARY, sample_project
from tornado.httpclient import HTTPClientError

from jupyter_ray_dev.cluster.local_head import free_port
from jupyter_ray_dev.errors import BadRequest
from jupyter_ray_dev.promote import PromoteConfig, PromoteService
from jupyter_ray_dev.promote.history import choose_manifest, schedule_of
from jupyter_ray_dev.promote.manifests import cluster_shape, cluster_spec_of, validate_manifest
from jupyter_ray_dev.promote.options import PromoteOptions
from jupyter_ray_dev.promote.schedule import Schedule, check_schedule
from jupyter_ray_dev.storage import StorageService

JUPYTER = str(Path(sys.executable).with_name("jupyter"))
CRON = {"variant": "raycronjob", "schedule": "0 2 * * 1-5", "time_zone": "Europe/Berlin"}


async def _summary():
    return SUMMARY


# -- the schedule ---------------------------------------------------------------------------

def _runs(cron: str, zone: str | None, start: str) -> list[str]:
    begin = datetime.datetime.fromisoformat(start)
    return [t.isoformat() for t in Schedule(cron, zone).next_runs(begin)]


def test_next_runs_of_a_weekday_schedule_in_its_zone():
    # Friday 2026-01-02 10:00 UTC (11:00 in Berlin): the next five weekdays at 02:00 Berlin
    assert _runs("0 2 * * 1-5", "Europe/Berlin", "2026-01-02T10:00:00+00:00") == [
        "2026-01-05T02:00:00+01:00", "2026-01-06T02:00:00+01:00", "2026-01-07T02:00:00+01:00",
        "2026-01-08T02:00:00+01:00", "2026-01-09T02:00:00+01:00"]


def test_next_runs_without_a_zone_are_utc():
    assert _runs("*/20 * * * *", None, "2026-05-01T23:45:10+02:00") == [
        "2026-05-01T22:00:00+00:00", "2026-05-01T22:20:00+00:00", "2026-05-01T22:40:00+00:00",
        "2026-05-01T23:00:00+00:00", "2026-05-01T23:20:00+00:00"]


def test_next_runs_across_the_spring_dst_change():
    # New York skips 02:00-03:00 on 2026-03-08: the 02:30 run of that day is at 03:00 EDT,
    # as cron runs it, and the offsets change from -05:00 to -04:00
    assert _runs("30 2 * * *", "America/New_York", "2026-03-06T12:00:00-05:00") == [
        "2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00",
        "2026-03-10T02:30:00-04:00", "2026-03-11T02:30:00-04:00"]


def test_next_runs_across_the_autumn_dst_change():
    # Berlin repeats 02:00-03:00 on 2026-10-25: the 02:30 run happens once, before the change
    runs = _runs("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00+02:00")
    assert runs == ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00",
                    "2026-10-27T02:30:00+01:00", "2026-10-28T02:30:00+01:00",
                    "2026-10-29T02:30:00+01:00"]
    # an hourly schedule sees the repeated hour twice, 60 minutes apart in real time
    hourly = Schedule("0 * * * *", "Europe/Berlin").next_runs(
        datetime.datetime(2026, 10, 25, 1, 30, tzinfo=ZoneInfo("Europe/Berlin")))
    assert [t.isoformat() for t in hourly] == [
        "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00",
        "2026-10-25T04:00:00+01:00", "2026-10-25T05:00:00+01:00"]
    utc = [t.astimezone(datetime.timezone.utc) for t in hourly]
    assert {(b - a).total_seconds() for a, b in zip(utc, utc[1:])} == {3600.0}


@pytest.mark.parametrize(("cron", "zone", "field", "words"), [
    ("0 0 2 * * 1-5", None, "schedule", "has 6 field(s)"),
    ("0 2 * *", None, "schedule", "has 4 field(s)"),
    ("@daily", None, "schedule", "has 1 field(s)"),
    ("61 * * * *", None, "schedule", "Bad minute"),
    ("0 25 * * *", None, "schedule", "Bad hour"),
    ("", None, "schedule", "is required"),
    ("0 2 * * *", "Mars/Olympus_Mons", "time_zone", "not an IANA time zone"),
    ("0 2 * * *", "../../etc/passwd", "time_zone", "not an IANA time zone"),
])
def test_bad_schedules_and_zones_name_the_field(cron, zone, field, words):
    with pytest.raises(BadRequest) as err:
        check_schedule(cron, zone, None)
    assert err.value.details["field"] == field and words in err.value.message


def test_schedule_fields_belong_to_the_cronjob_variant():
    with pytest.raises(BadRequest) as err:
        PromoteOptions.from_request({"schedule": "0 2 * * *"})
    assert err.value.details["field"] == "schedule" and "raycronjob" in err.value.message
    with pytest.raises(BadRequest) as err:
        PromoteOptions.from_request({"variant": "raycronjob"})
    assert err.value.details["field"] == "schedule"
    options = PromoteOptions.from_request({**CRON, "suspend": True})
    assert options.timing == Schedule("0 2 * * 1-5", "Europe/Berlin", True)


# -- the manifests ------------------------------------------------------------------------

def _service(tmp_path, **config) -> PromoteService:
    root = tmp_path / "root"
    if not (root / "proj").exists():
        sample_project(root, env_vars={"MODE": "prod", "API_TOKEN": "t"})
    storage = StorageService([{"name": "logs", "url": "s3://ray-logs/team",
                               "options": {"endpoint_url": "http://minio.example:9000",
                                           "client_kwargs": {"region_name": "eu-west-1"}}},
                              {"name": "gcs", "url": "gs://ray-logs-gcs"},
                              {"name": "local", "url": str(tmp_path)}])
    return PromoteService(PromoteConfig(root_dir=root, registry="registry.example.com/team",
                                        store_path=tmp_path / "p.sqlite", **config),
                          _summary, storage=lambda: storage)


def _plan(service: PromoteService, body: dict) -> dict:
    async def go():
        try:
            return await service.plan("proj", {"entrypoint": "proj/train.ipynb", **body})
        finally:
            await service.close()

    return asyncio.run(go())


def test_cronjob_variant_stamps_exactly_the_rayjob_variants_job(tmp_path):
    cron = _plan(_service(tmp_path), {**CRON, "suspend": True})
    job = _plan(_service(tmp_path), {})
    assert cron["manifest_errors"] == {} and cron["variant"] == "raycronjob"
    (doc,) = yaml.safe_load_all(cron["manifests"])
    rayjob = choose_manifest(job["manifests"], "RayJob")
    assert doc["kind"] == "RayCronJob" and doc["metadata"] == rayjob["metadata"]
    assert doc["spec"] == {"schedule": "0 2 * * 1-5", "timeZone": "Europe/Berlin",
                           "suspend": True, "jobTemplate": rayjob["spec"]}
    # the Secret's variables reach the stamped job's containers, as the RayJob's
    head = cluster_spec_of(doc)["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {
        "name": "proj-secrets", "key": "API_TOKEN"}}} in head["env"]
    assert validate_manifest(doc) == []
    # the review: the next five runs in the chosen zone
    schedule = cron["schedule"]
    assert (schedule["schedule"], schedule["time_zone"], schedule["suspend"]) == (
        "0 2 * * 1-5", "Europe/Berlin", True)
    assert len(schedule["next_runs"]) == 5
    for when in schedule["next_runs"]:
        moment = datetime.datetime.fromisoformat(when)
        local = moment.astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.hour, local.minute) == (2, 0) and local.isoweekday() <= 5
        assert moment.utcoffset() == local.utcoffset()
    assert schedule_of(cron["manifests"]) == {"schedule": "0 2 * * 1-5",
                                              "time_zone": "Europe/Berlin", "suspend": True}
    assert job["schedule"] is None and schedule_of(job["manifests"]) is None


def test_a_cronjob_manifest_that_breaks_the_crd_is_reported():
    bad = {"apiVersion": "ray.io/v1", "kind": "RayCronJob", "metadata": {"name": "x"},
           "spec": {"schedule": "0 2 * * *", "timeZone": ""}}
    errors = validate_manifest(bad)
    assert any(e.startswith("spec: 'jobTemplate' is a required property") for e in errors)
    assert any(e.startswith("spec/timeZone:") for e in errors)


@pytest.mark.parametrize("variant", ["rayjob", "rayservice", "raycronjob"])
def test_history_server_options_exactly_when_configured(tmp_path, variant):
    from promote_helpers import write
    from test_promote_rayservice import SERVE_SCRIPT

    body = {"variant": variant}
    if variant == "raycronjob":
        body.update(schedule="15 3 * * *")
    service = _service(tmp_path, history_server="logs/history")
    write(tmp_path / "root" / "proj" / "web.py", SERVE_SCRIPT)
    body["entrypoint"] = "proj/web.py"
    kept = _plan(service, body)
    plain = _plan(_service(tmp_path), body)
    assert kept["manifest_errors"] == {} and plain["manifest_errors"] == {}
    expected = {"collectorOptions": {"image": "quay.io/kuberay/collector:v1.7.0", "env": [
        {"name": "STORAGE_BACKEND", "value": "s3"}, {"name": "S3_BUCKET", "value": "ray-logs"},
        {"name": "RAY_ROOT_DIR", "value": "team/history"},
        {"name": "S3_ENDPOINT", "value": "http://minio.example:9000"},
        {"name": "S3FORCE_PATH_STYLE", "value": "true"},
        {"name": "S3_REGION", "value": "eu-west-1"}]}}
    docs = list(yaml.safe_load_all(kept["manifests"]))
    assert docs and all(cluster_spec_of(d)["historyServerOptions"] == expected for d in docs)
    assert all("historyServerOptions" not in cluster_spec_of(d)
               for d in yaml.safe_load_all(plain["manifests"]))
    assert kept["logs"]["configured"] is True
    assert kept["logs"]["uri"] == "s3://ray-logs/team/history"
    assert "outlive the cluster" in kept["logs"]["message"]
    assert plain["logs"]["configured"] is False
    assert "go with the cluster" in plain["logs"]["message"]
    assert "c.RayDev.history_server" in plain["logs"]["message"]


@pytest.mark.parametrize("endpoint", ["http://127.0.0.1:9000", "http://localhost:9000/",
                                      "http://[::1]:9000", "http://127.0.0.53"])
def test_a_loopback_s3_endpoint_in_the_manifests_is_warned_of(tmp_path, endpoint):
    root = tmp_path / "root"
    sample_project(root)
    storage = StorageService([{"name": "logs", "url": "s3://ray-logs/team",
                               "options": {"endpoint_url": endpoint}}])
    service = PromoteService(PromoteConfig(root_dir=root, store_path=tmp_path / "p.sqlite",
                                           history_server="logs/history"),
                             _summary, storage=lambda: storage)
    plan = _plan(service, {})
    assert endpoint in plan["manifests"]  # still written: the user may port-forward on purpose
    (warning,) = [w for w in plan["warnings"] if w["kind"] == "loopback_endpoint"]
    assert endpoint in warning["message"] and "endpoint_url" in warning["message"]
    # a name the pods resolve is not warned of
    reachable = _plan(_service(tmp_path, history_server="logs/history"), {})
    assert "loopback_endpoint" not in [w["kind"] for w in reachable["warnings"]]


def test_history_server_on_gcs_and_a_misconfigured_one(tmp_path):
    gcs = _plan(_service(tmp_path, history_server="gcs"), {})
    (job, _) = yaml.safe_load_all(gcs["manifests"])
    assert cluster_spec_of(job)["historyServerOptions"]["collectorOptions"]["env"] == [
        {"name": "STORAGE_BACKEND", "value": "gcs"},
        {"name": "GCS_BUCKET", "value": "ray-logs-gcs"},
        {"name": "RAY_ROOT_DIR", "value": "ray-history"}]
    local = _plan(_service(tmp_path, history_server="local/logs"), {})
    assert local["logs"]["configured"] is False
    assert "reads s3:// or gs:// only" in local["logs"]["error"]
    assert "historyServerOptions" not in local["manifests"]
    missing = _plan(_service(tmp_path, history_server="nope/logs"), {})
    assert "nope" in missing["logs"]["error"]

    async def build():
        service = _service(tmp_path, history_server="local/logs")
        try:
            await service.start_build("proj", {"entrypoint": "proj/train.ipynb"})
        finally:
            await service.close()

    with pytest.raises(BadRequest) as err:  # nothing is built without the logs it promised
        asyncio.run(build())
    assert err.value.details["field"] == "history_server"


# -- the three faces refuse bad schedules ---------------------------------------------------

BAD = [({"schedule": "0 0 2 * * *"}, "schedule", "has 6 field(s)"),
       ({"schedule": "61 * * * *"}, "schedule", "Bad minute"),
       ({"schedule": "0 2 * * *", "time_zone": "Nowhere/City"}, "time_zone", "IANA")]


@pytest.fixture
def ray_address():
    return f"http://127.0.0.1:{free_port()}"  # refused before Ray is asked


@pytest.mark.parametrize(("extra", "field", "words"), BAD)
async def test_rest_answers_400_naming_the_field(jp_fetch, jp_root_dir, extra, field, words):
    sample_project(jp_root_dir)
    body = {"entrypoint": "proj/train.ipynb", "variant": "raycronjob", **extra}
    for route in ("plan", "build", "context"):
        with pytest.raises(HTTPClientError) as err:
            await jp_fetch("ray-dev", "api", "projects", "proj", "promote", route,
                           method="POST", body=json.dumps(body))
        reply = json.loads(err.value.response.body)
        assert err.value.code == 400 and reply["field"] == field and words in reply["message"]


@pytest.mark.parametrize(("extra", "field", "words"), BAD)
def test_cli_exits_2_naming_the_field(tmp_path, extra, field, words):
    root = tmp_path / "root"
    sample_project(root)
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"root_dir": str(root)},
        "RayDev": {"ray_address": f"http://127.0.0.1:{free_port()}",
                   "promote_store_path": str(tmp_path / "p.sqlite")}}))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config)}
    env.pop("RAY_DEV_ROOT_DIR", None)
    args = ["promote", "-e", "train.ipynb", "--variant", "raycronjob",
            "--schedule", extra["schedule"], "--json"]
    if "time_zone" in extra:
        args += ["--time-zone", extra["time_zone"]]
    done = subprocess.run([JUPYTER, "ray-dev", *args], cwd=root / "proj", env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    error = json.loads(done.stdout)["error"]
    assert (error["status"], error["field"]) == (400, field) and words in error["message"]
    assert words in done.stderr


@pytest.mark.parametrize(("extra", "field", "words"), BAD)
def test_magic_raises_a_usage_error_naming_the_field(tmp_path, capsys, monkeypatch, extra,
                                                     field, words):
    from IPython.core.error import UsageError
    from IPython.testing.globalipapp import get_ipython
    from traitlets.config import Config

    from jupyter_ray_dev import blocking
    from jupyter_ray_dev.local import config_from_jupyter
    from jupyter_ray_dev.magics import load
    from jupyter_ray_dev.service import RayDevService

    root = tmp_path / "root"
    sample_project(root)
    monkeypatch.chdir(root / "proj")
    service = RayDevService(config_from_jupyter(Config({"RayDev": {
        "ray_address": f"http://127.0.0.1:{free_port()}",
        "promote_store_path": str(tmp_path / "p.sqlite")}}), root_dir=str(root)))
    shell = get_ipython()
    load(shell, lambda: service)
    try:
        line = (f"%ray_promote -e train.ipynb --variant raycronjob "
                f"--schedule \"{extra['schedule']}\"")
        if "time_zone" in extra:
            line += f" --time-zone {extra['time_zone']}"
        result = shell.run_cell(line)
    finally:
        blocking.call(service.close)
    assert isinstance(result.error_in_exec, UsageError)
    message = str(result.error_in_exec)
    assert words in message and f"`{field}`" in message


def test_the_runtime_env_rayjob_keeps_its_logs_too(tmp_path):
    from jupyter_ray_dev.promote.package import runtime_env_rayjob

    options = {"collectorOptions": {"image": "c:1", "env": [
        {"name": "STORAGE_BACKEND", "value": "s3"}]}}
    job = runtime_env_rayjob(name="p", project="p", image="rayproject/ray:2.60.0-py311",
                             ray_version="2.60.0", script="t.py", runtime_env={},
                             shape=cluster_shape(SUMMARY), env=[], history=options)
    assert job["spec"]["rayClusterSpec"]["historyServerOptions"] == options
    assert validate_manifest(job) == []
