"""Pure parts behind the magics and the CLI: where a URI lives, the driver address, config."""

from __future__ import annotations

import json

import pytest

from jupyter_ray_dev.cli import NOT_FOUND, UNAVAILABLE, USAGE, exit_code
from jupyter_ray_dev.driver import init_address
from jupyter_ray_dev.errors import BadRequest, Conflict, NotFound, RayUnreachable
from jupyter_ray_dev.local import config_from_jupyter, load_jupyter_config
from jupyter_ray_dev.storage.errors import StorageRootNotFound
from jupyter_ray_dev.storage.locate import locate
from jupyter_ray_dev.storage.roots import parse_roots

ROOTS = parse_roots([
    {"name": "shared", "url": "/mnt/shared"},
    {"name": "runs", "url": "/mnt/shared/runs"},
    {"name": "ckpt", "url": "s3://bucket/ckpt"},
    {"name": "gcs", "url": "gs://other"},
])


@pytest.mark.parametrize(("uri", "where"), [
    ("/mnt/shared/data/x.csv", ("shared", "data/x.csv")),
    ("/mnt/shared/runs/exp1", ("runs", "exp1")),  # the deepest root wins
    ("/mnt/shared/runs", ("runs", "")),
    ("file:///mnt/shared/a", ("shared", "a")),
    ("s3://bucket/ckpt/run/1", ("ckpt", "run/1")),
    ("s3a://bucket/ckpt", ("ckpt", "")),
    ("gcs://other/a/b", ("gcs", "a/b")),
    ("runs:exp1/trial", ("runs", "exp1/trial")),
    ("ckpt", ("ckpt", "")),
])
def test_locate_finds_the_root_and_the_path(uri, where):
    assert locate(ROOTS, uri) == where


@pytest.mark.parametrize("uri", ["/mnt/sharedish/x", "/etc/passwd", "s3://bucket/other",
                                 "s3://bucketx/ckpt", "/mnt/shared/../../etc", "nope:x"])
def test_locate_refuses_what_no_root_holds(uri):
    with pytest.raises(StorageRootNotFound) as err:
        locate(ROOTS, uri)
    assert "shared (/mnt/shared)" in err.value.message


def test_init_address_prefers_driver_forms_then_the_heads_temp_dir(tmp_path):
    assert init_address("10.0.0.1:6379", "http://x:8265", env={}) == "10.0.0.1:6379"
    assert init_address(None, "http://x:8265", env={"RAY_ADDRESS": "127.0.0.1:6379"}) == \
        "127.0.0.1:6379"
    assert init_address(None, "ray://head:10001", env={}) == "ray://head:10001"
    (tmp_path / "ray_current_cluster").write_text("192.0.2.7:41000\n")
    assert init_address(None, "http://x:8265", str(tmp_path),
                        env={"RAY_ADDRESS": "http://x:8265"}) == "192.0.2.7:41000"
    with pytest.raises(BadRequest) as err:
        init_address(None, "http://x:8265", env={})
    assert err.value.details["field"] == "address" and "--address" in err.value.message


def test_config_comes_from_the_jupyter_config_files(tmp_path, monkeypatch):
    (tmp_path / "jupyter_server_config.json").write_text(json.dumps({
        "ServerApp": {"root_dir": str(tmp_path / "nb")},
        "RayDev": {"ray_address": "http://head:8265", "shared_roots": ["/mnt/shared"],
                   "storage_roots": ["/data"], "request_timeout": 9},
    }))
    monkeypatch.delenv("RAY_DEV_ROOT_DIR", raising=False)
    config = config_from_jupyter(load_jupyter_config([str(tmp_path)]))
    assert config.ray_address == "http://head:8265"
    assert config.shared_roots == ("/mnt/shared",) and config.storage_roots == ("/data",)
    assert config.request_timeout == 9 and config.root_dir == str(tmp_path / "nb")
    # a kernel started by the server knows the server's root through the environment
    monkeypatch.setenv("RAY_DEV_ROOT_DIR", str(tmp_path / "server-root"))
    assert config_from_jupyter(load_jupyter_config([str(tmp_path)])).root_dir == \
        str(tmp_path / "server-root")


def test_cli_exit_codes_follow_the_errors_status():
    assert exit_code(BadRequest("x")) == USAGE
    assert exit_code(Conflict("x")) == USAGE
    assert exit_code(NotFound("x")) == NOT_FOUND
    assert exit_code(RayUnreachable("x")) == UNAVAILABLE
