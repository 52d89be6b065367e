"""The history's core without Ray: per-artifact diffs of two recorded promotions, the
manifests pinned to the pushed digest, and which manifest a re-apply takes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from promote_helpers import sample_project, write
from test_promote_rayservice import SERVE_SCRIPT
from test_promote_units import promote  # noqa: F401 - the fixture

from jupyter_ray_dev.errors import BadRequest, Conflict, NotFound
from jupyter_ray_dev.promote.history import choose_manifest
from jupyter_ray_dev.promote.manifests import pin_image, pinned_reference
from jupyter_ray_dev.promote.store import PromotionRecord


def _export(service, tmp_path: Path, **body) -> str:
    dest = tmp_path / f"{len(list(tmp_path.iterdir()))}.tar.gz"
    return asyncio.run(service.export_context("proj", body, dest))["id"]


def test_diff_has_one_entry_per_artifact_and_per_manifest(promote, tmp_path):  # noqa: F811
    project = sample_project(Path(promote.root))
    write(project / "web.py", SERVE_SCRIPT)
    first = _export(promote, tmp_path, entrypoint="proj/web.py")
    (project / "runtime_env.yaml").write_text("pip: [packaging]\n")
    second = _export(promote, tmp_path, entrypoint="proj/web.py", variant="rayservice")
    out = asyncio.run(promote.diff(second, first))
    assert (out["from"], out["to"], out["same_inputs"]) == (first, second, False)
    by_name = {a["name"]: a for a in out["artifacts"]}
    assert list(by_name) == ["Dockerfile", "requirements.txt", "lock", "RayService/proj",
                             "RayJob/proj", "RayCluster/proj"]
    assert "\n-pyyaml==" in by_name["requirements.txt"]["diff"]
    assert "ENV MODE=" in by_name["Dockerfile"]["diff"]
    # the RayService is new, the RayJob and RayCluster went away
    assert by_name["RayService/proj"]["diff"].startswith("--- /dev/null\n")
    assert f"+++ {second}/RayService/proj" in by_name["RayService/proj"]["diff"]
    assert "+++ /dev/null" in by_name["RayJob/proj"]["diff"]
    # the same inputs again: every diff is empty
    third = _export(promote, tmp_path, entrypoint="proj/web.py", variant="rayservice")
    same = asyncio.run(promote.diff(third, second))
    assert same["same_inputs"] and all(a["diff"] == "" for a in same["artifacts"])


def test_diff_of_an_unknown_promotion_is_404(promote, tmp_path):  # noqa: F811
    sample_project(Path(promote.root))
    known = _export(promote, tmp_path, entrypoint="proj/train.ipynb")
    with pytest.raises(NotFound) as err:
        asyncio.run(promote.diff(known, "promo_missing"))
    assert err.value.details["promotion_id"] == "promo_missing"


def test_recorded_manifests_are_pinned_to_the_pushed_digest(promote):  # noqa: F811
    digest = "sha256:" + "ab" * 32
    image = "registry.example.com:5000/team/proj:1a2b"
    assert pinned_reference(image, digest) == f"registry.example.com:5000/team/proj@{digest}"
    assert pinned_reference("localhost:5000/proj", digest) == f"localhost:5000/proj@{digest}"
    manifests = (
        f"kind: RayJob\nmetadata: {{name: p}}\nspec:\n  rayClusterSpec:\n    headGroupSpec:\n"
        f"      template: {{spec: {{containers: [{{name: h, image: '{image}'}}]}}}}\n"
        f"    workerGroupSpecs:\n    - template: {{spec: {{containers: [{{name: w, image: "
        f"'{image}'}}, {{name: sidecar, image: 'busybox:1'}}]}}}}\n")
    pinned = yaml.safe_load(pin_image(manifests, image, digest))
    spec = pinned["spec"]["rayClusterSpec"]
    head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
    worker, sidecar = spec["workerGroupSpecs"][0]["template"]["spec"]["containers"]
    assert head["image"] == worker["image"] == pinned_reference(image, digest)
    assert sidecar["image"] == "busybox:1"  # not ours: left alone
    assert pin_image(manifests, image, None) == manifests  # never pushed: as recorded

    record = PromotionRecord(id="promo_1", project="proj", entrypoint="proj/x.py",
                             kind="build", status="pushed", inputs_hash="h", dockerfile="",
                             manifests=manifests, requirements="", image=image, digest=digest)
    asyncio.run(promote.store.put(record))
    got = asyncio.run(promote.get("promo_1"))
    assert got["manifests"] == manifests  # the record itself is unchanged
    assert digest in got["manifests_pinned"]


def test_choose_manifest_takes_the_kind_asked_for_or_the_rayjob_first():
    text = ("kind: RayCluster\nmetadata: {name: c}\n---\nkind: RayJob\nmetadata: {name: j}\n"
            "---\nkind: ConfigMap\nmetadata: {name: m}\n")
    assert choose_manifest(text, None)["metadata"]["name"] == "j"
    assert choose_manifest(text, "RayCluster")["metadata"]["name"] == "c"
    with pytest.raises(BadRequest) as err:
        choose_manifest(text, "RayService")
    assert err.value.details["field"] == "kind" and "RayJob, RayCluster" in err.value.message
    with pytest.raises(BadRequest):
        choose_manifest("kind: ConfigMap\n", None)


def test_reapply_refuses_what_never_produced_an_image(promote):  # noqa: F811
    # the Kubernetes capability is never reached: the record's status refuses first
    promote._kubernetes = lambda: pytest.fail("a failed promotion reached Kubernetes")
    record = PromotionRecord(id="promo_f", project="proj", entrypoint="proj/x.py",
                             kind="build", status="failed", inputs_hash="h", dockerfile="",
                             manifests="kind: RayJob\nmetadata: {name: j}\n", requirements="")
    asyncio.run(promote.store.put(record))
    with pytest.raises(Conflict):
        asyncio.run(promote.reapply("promo_f", {"dry_run": True}))
    for body, field in (([], "body"), ({"kind": 3}, "kind"), ({"dry_run": "no"}, "dry_run")):
        with pytest.raises(BadRequest) as err:
            asyncio.run(promote.reapply("promo_f", body))
        assert err.value.details["field"] == field
