"""``c.RayDev`` lists given on ``jupyter lab``'s command line, as deploy/dev/raycluster.yaml
gives them: one value per flag. JupyterLab parses the line before it knows this extension,
so a JSON list arrives as one string; it must not become a relative path."""

from __future__ import annotations

import pytest


@pytest.fixture
def jp_server_config():
    # no Ray needed: nothing here talks to the cluster
    return {"ServerApp": {"jpserver_extensions": {"jupyter_ray_dev": True}},
            "RayDev": {"ray_address": "http://127.0.0.1:9"}}


def _ray_dev(app):
    [extension] = [point.app for ext in app.extension_manager.extensions.values()
                   for name, point in ext.extension_points.items() if name == "jupyter_ray_dev"]
    return extension


def test_one_folder_per_flag(jp_configurable_serverapp, tmp_path):
    app = jp_configurable_serverapp(argv=[f"--RayDev.shared_roots={tmp_path}/a",
                                          f"--RayDev.shared_roots={tmp_path}/b"])
    shared = _ray_dev(app).service.config.shared_roots
    assert [str(p) for p in shared] == [f"{tmp_path}/a", f"{tmp_path}/b"]


def test_a_json_list_is_ignored_with_the_fix(jp_configurable_serverapp, tmp_path, capfd):
    app = jp_configurable_serverapp(argv=[f'--RayDev.shared_roots=["{tmp_path}/a"]',
                                          f"--RayDev.shared_roots={tmp_path}/b"])
    assert [str(p) for p in _ray_dev(app).service.config.shared_roots] == [f"{tmp_path}/b"]
    # the extension's own log handler writes to stderr
    [warning] = [line for line in capfd.readouterr().err.splitlines() if "shared_roots" in line]
    assert "is not an absolute folder path, ignored" in warning
    assert "--RayDev.shared_roots=/mnt/shared --RayDev.shared_roots=/mnt/other" in warning
