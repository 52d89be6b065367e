"""A real build: buildah (vfs, chroot) builds a promoted project from a local stand-in
for rayproject/ray, pushes it to a real registry on loopback, and the pushed image is
inspected: labels, user, workdir, env, files present and absent, the dependency really
installed by pip, the entrypoint really running. Then a code-only change rebuilds on
the cached dependency layers."""

from __future__ import annotations

import asyncio

import pytest
from image_parts import buildah
from promote_image_checks import (
    HOSTILE,
    broken_wheel_project,
    check_failed_and_not_pushed,
    check_pushed_image,
    hostile_vfs_build,
    rebuild_after_code_change,
    run_build,
    vfs_service,
)


def test_build_push_inspect_and_rebuild_on_cached_dependency_layers(
        tmp_path, buildah_store, base_image, registry):
    root, service, body = hostile_vfs_build(tmp_path, buildah_store, registry, base_image)
    try:
        lines, end = asyncio.run(run_build(service, body))
        assert end["status"] == "pushed", "\n".join(lines[-30:])
        image = end["image"]
        assert image.startswith(f"{registry}/team/proj:") and end["digest"].startswith("sha256:")
        check_pushed_image(image, end, tmp_path / "pulled")

        # the image runs the converted notebook: code, data, dependency, env all there
        ctr = buildah(buildah_store, "from", image).strip()
        try:
            out = buildah(buildah_store, "run", "--isolation", "chroot", ctr, "--", "sh", "-c",
                          end_command(service, body))
        finally:
            buildah(buildah_store, "rm", ctr)
        assert f"RESULT 42 1.2.3 lr=0.1 {HOSTILE}" in out

        rebuild_after_code_change(service, body, root, end, "--> Using cache")
        history = asyncio.run(service.history("proj"))
        assert [h["status"] for h in history] == ["pushed", "pushed"]
        stored = asyncio.run(service.get(end["id"]))
        assert "pip install" in stored["log"] and stored["digest"] == end["digest"]
    finally:
        asyncio.run(service.close())


def end_command(service, body) -> str:
    plan = asyncio.run(service.plan("proj", body))
    return plan["entrypoint"]["command"]


def test_a_failing_step_is_named_and_nothing_is_pushed(tmp_path, buildah_store, base_image,
                                                       registry):
    root = broken_wheel_project(tmp_path)
    service = vfs_service(root, tmp_path / "p.sqlite", buildah_store, registry)
    try:
        lines, end = asyncio.run(run_build(service, {"entrypoint": "proj/train.ipynb",
                                                     "base_image": base_image}))
        check_failed_and_not_pushed(end, registry)
        # nothing half-built is left: the failed step's working container is gone too
        assert buildah(buildah_store, "containers", "--quiet").strip() == ""
    finally:
        asyncio.run(service.close())


pytestmark = pytest.mark.timeout(900)
