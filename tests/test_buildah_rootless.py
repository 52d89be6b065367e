"""Rootless buildah's prerequisites, read from files laid out as /etc/subuid, /etc/subgid
and /proc/sys/user/max_user_namespaces are, and whether this process may create a user
namespace (the uid-1000 tier, tests/test_unprivileged.py, checks the review's line on
this machine's real files)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from jupyter_ray_dev.promote.builders.buildah import rootless_gaps


@pytest.fixture
def files(tmp_path):
    def write(subuid: str = "", subgid: str = "", userns: str = "15000\n",
              no_new_privs: int = 0) -> dict[str, str]:
        paths = {"subuid": tmp_path / "subuid", "subgid": tmp_path / "subgid",
                 "max_userns": tmp_path / "max_user_namespaces", "status": tmp_path / "status"}
        paths["subuid"].write_text(subuid)
        paths["subgid"].write_text(subgid)
        paths["max_userns"].write_text(userns)
        paths["status"].write_text(f"Name:\tpython\nNoNewPrivs:\t{no_new_privs}\nSeccomp:\t0\n")
        return {key: str(path) for key, path in paths.items()}
    return write


def test_root_needs_nothing(files):
    assert rootless_gaps(0, **files(userns="0\n")) == []


def test_a_user_without_ranges_is_told_which_files_lack_them(files):
    paths = files()
    gaps = rootless_gaps(4242, **paths)
    assert f"{paths['subuid']} has no range for uid 4242" in gaps
    assert f"{paths['subgid']} has no range for uid 4242" in gaps


def test_ranges_by_uid_count_and_small_ones_are_named(files):
    paths = files(subuid="4242:100000:65536\n", subgid="other:1:65536\n4242:200000:1000\n")
    gaps = rootless_gaps(4242, **paths)
    assert not any(paths["subuid"] in g for g in gaps)
    assert f"{paths['subgid']} gives uid 4242 1000 ids, fewer than 65536" in gaps


def test_user_namespaces_off_is_named(files):
    paths = files(subuid="4242:100000:65536\n", subgid="4242:100000:65536\n", userns="0\n")
    gaps = rootless_gaps(4242, **paths)
    assert "user namespaces are off (user.max_user_namespaces = 0)" in gaps
    if shutil.which("newuidmap") and shutil.which("newgidmap"):
        assert len(gaps) == 1, gaps


def test_no_new_privs_is_named(files):
    paths = files(subuid="4242:100000:65536\n", subgid="4242:100000:65536\n", no_new_privs=1)
    gaps = rootless_gaps(4242, **paths)
    assert any(g.startswith("no_new_privs is set (allowPrivilegeEscalation: false)")
               for g in gaps), gaps


def test_a_refused_user_namespace_is_named(files, tmp_path):
    """The sysctl allows user namespaces, but this process may not create one: a real
    refusal, from a user namespace whose own limit of nested namespaces is 0 (as a
    seccomp profile refuses the call, only with another errno)."""
    paths = files(subuid="4242:100000:65536\n", subgid="4242:100000:65536\n")
    script = ("import json, sys; from jupyter_ray_dev.promote.builders.buildah import "
              f"rootless_gaps; print(json.dumps(rootless_gaps(4242, **{paths!r})))")
    out = subprocess.run(
        ["unshare", "--user", "--map-root-user", "sh", "-c",
         'echo 0 > /proc/sys/user/max_user_namespaces && exec "$0" -c "$1"',
         sys.executable, script], capture_output=True, text=True, check=True)
    gaps = json.loads(out.stdout)
    [refused] = [g for g in gaps if g.startswith("this process cannot create a user namespace")]
    assert "(No space left on device)" in refused, refused
    assert "seccomp or AppArmor" in refused


def test_a_user_namespace_this_process_may_create_is_no_gap(files):
    paths = files(subuid="4242:100000:65536\n", subgid="4242:100000:65536\n")
    assert not [g for g in rootless_gaps(4242, **paths) if "user namespace" in g]
