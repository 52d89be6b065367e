"""Benchmark (not a test): Promote to prod, ratios measured in one run.

1. Build context for a project of 5,000 kept files, with ignored folders holding 50,000
   more (.gitignore'd data/ and a .venv): our export (walk with every ignore rule, pin,
   render, hash, reproducible tar.gz) vs a bare ``tar czf`` of the kept files, list
   given (target <= 1.3x). The export compresses with ISA-L's gzip in a thread
   (python-isal); ``tar czf`` with gzip.
2. Image rebuild after a one-line code change vs the first build, with real pip
   dependencies in the image (rich and what it needs, as published on PyPI: downloaded
   once per machine, then installed from the files, so the network is not measured): buildah with the default storage (auto:
   overlay where it mounts) and with vfs (--storage-driver), chroot isolation, the local
   stand-in for rayproject/ray of the tests (no target: a code-only change takes the
   code-layer path of 3 once a promotion was pushed; this is its cost before). Local
   builds, no push. The
   service is warmed first (imports, builder probes), so both builds are measured alike.
   Each build ends with the parity check of the image (a container of it runs the probe:
   versions, distributions, pip check, imports of what the notebook imports): its time is
   printed beside the build's.
3. Code-only promote by the code-layer path (no builder: one new layer, config and
   manifest pushed to a registry on loopback, the earlier layers reused by digest) vs the
   first build and push, with vfs (what an unprivileged pod gets) and the default storage
   (target <= 0.10x of the vfs build).

    python bench/promote.py [--rounds 3] [--skip-build] [--skip-context]
                            [--skip-code-layer | --only-code-layer]
                            [--storage-driver auto vfs]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from promote_helpers import SUMMARY, build_wheel, notebook, sample_project, write

from jupyter_ray_dev.promote import PromoteConfig, PromoteService

KEPT, IGNORED = 5000, 50000


async def _summary():
    return SUMMARY


def make_big_project(root: Path) -> Path:
    project = sample_project(root, "big", pip=["packaging"])
    body = "".join(f"value_{i} = {i} * 2  # some code to compress\n" for i in range(40))
    for i in range(KEPT - 10):
        write(project / "src" / f"pkg{i % 50}" / f"mod{i}.py", body)
    for i in range(IGNORED):
        target = project / ("data" if i % 2 else ".venv") / f"d{i % 100}" / f"f{i}.bin"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"x" * 64)
    (project / ".gitignore").write_text("data/\ncheckpoints/\n*.log\n")
    return project


def bench_context(rounds: int) -> float:
    work = Path(tempfile.mkdtemp(prefix="rdp-bench-"))
    try:
        project = make_big_project(work / "root")
        service = PromoteService(PromoteConfig(root_dir=work / "root",
                                               store_path=work / "p.sqlite"), _summary)
        body = {"entrypoint": "big/train.ipynb"}
        plan = asyncio.run(service.plan("big", body))
        kept = plan["files"]["count"]
        listing = work / "files.txt"
        from jupyter_ray_dev.promote.collect import collect

        listing.write_text("\n".join(collect(project, project / "train.ipynb",
                                             ("*.tmp",)).files) + "\n")
        ours, tar = [], []
        for r in range(rounds):
            t = time.perf_counter()
            asyncio.run(service.export_context("big", body, work / f"ours{r}.tar.gz"))
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run(["tar", "czf", str(work / f"tar{r}.tar.gz"), "-C", str(project),
                            "-T", str(listing)], check=True)
            tar.append(time.perf_counter() - t)
        asyncio.run(service.close())
        ratio = statistics.median(ours) / statistics.median(tar)
        print(f"context: {kept} files kept of {kept + IGNORED}+; ours median "
              f"{statistics.median(ours):.2f} s, tar czf {statistics.median(tar):.2f} s, "
              f"ratio {ratio:.2f}x (target <= 1.3x) {'OK' if ratio <= 1.3 else 'OVER'}")
        return ratio
    finally:
        shutil.rmtree(work, ignore_errors=True)


PUBLISHED = "rich==13.9.4"  # pure-Python wheels (+ markdown-it-py, mdurl, pygments)


def published_wheels(dest: Path) -> list[Path]:
    """``PUBLISHED`` and its dependencies as wheel files in ``dest``, fetched once."""
    from promote_base import cache_dir

    cache = cache_dir() / "bench-wheels" / PUBLISHED.replace("==", "-")
    if not cache.is_dir():
        scratch = Path(tempfile.mkdtemp(dir=cache.parent.parent, prefix="wheels-"))
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
                        "-d", str(scratch), PUBLISHED], check=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        scratch.rename(cache)  # whole or not at all
    dest.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(w, dest)) for w in sorted(cache.glob("*.whl"))]


@dataclass
class Setup:
    """A buildah store with the stand-in base image, and the sample project with real
    pip dependencies (``published`` and a local wheel)."""

    work: Path
    store: dict[str, str]
    driver: str  # what ``auto`` resolved to
    base: str
    root: Path
    project: Path
    wheels: int


@contextlib.contextmanager
def setup(asked: str) -> Iterator[Setup]:
    from promote_base import build_context, recipe_key

    from jupyter_ray_dev.promote.builders import BuildahBuilder, BuildahConfig

    work = Path(tempfile.mkdtemp(prefix="rdp-bench-"))
    store = {"root": str(work / "bh"), "runroot": str(work / "run")}
    driver = asked
    if asked == "auto":
        resolver = BuildahBuilder(BuildahConfig(storage_driver="auto", **store))
        asyncio.run(resolver.availability())
        driver = resolver.storage_driver or "vfs"
    bh = ["buildah", "--root", store["root"], "--runroot", store["runroot"],
          "--storage-driver", driver]
    try:
        base = f"localhost/ray-dev-test-base:{recipe_key()}"
        ctx = build_context(work / "base")
        subprocess.run([*bh, "build", "--isolation", "chroot", "-t", base, "-f",
                        str(ctx / "Containerfile"), str(ctx)], check=True, capture_output=True)
        root = work / "root"
        wheel = build_wheel(work / "src", root / "proj" / "wheels")
        published = published_wheels(root / "proj" / "wheels")
        project = sample_project(root, pip=[f"./wheels/{w.name}" for w in [wheel, *published]])
        # what the parity check imports: the notebook's third-party modules
        notebook(project / "train.ipynb", "import helpers, raydevdep, rich, pygments\n"
                 "print(helpers.answer())")
        yield Setup(work, store, driver, base, root, project, len(published) + 1)
    finally:
        subprocess.run([*bh, "rmi", "--all", "--force"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def before_and_after_a_change(service: PromoteService, s: Setup, body: dict, run):
    """``run()``'s figures for the project as it is, then after a one-line change to it
    (warmed up first: imports, builder probes); the service is closed after."""
    asyncio.run(service.plan("proj", body))
    first = asyncio.run(run())
    write(s.project / "helpers.py", "def answer():\n    return 43\n")
    again = asyncio.run(run())
    asyncio.run(service.close())
    return first, again


def bench_rebuild(asked: str = "auto") -> float:
    with setup(asked) as s:
        service = PromoteService(PromoteConfig(
            root_dir=s.root, buildah_root=s.store["root"], buildah_runroot=s.store["runroot"],
            buildah_storage_driver=asked, store_path=s.work / "p.sqlite"), _summary)
        body = {"entrypoint": "proj/train.ipynb", "base_image": s.base,
                "image": "localhost/bench/proj:latest", "push": False}

        async def build() -> tuple[float, float]:
            """(the whole build with its check, the parity check alone) in seconds."""
            t = time.perf_counter()
            check = 0.0
            async for event in service.build("proj", body):
                if event["type"] == "end":
                    promotion = event["promotion"]
                    assert promotion["status"] == "built", event
                    assert promotion["parity"]["status"] == "passed", promotion["parity"]
                    check = promotion["parity"]["seconds"]
            return time.perf_counter() - t, check

        (first, first_check), (again, again_check) = before_and_after_a_change(
            service, s, body, build)
        # the target is the builder's: the check after it is printed beside it
        built, rebuilt = first - first_check, again - again_check
        ratio = rebuilt / built
        print(f"rebuild through buildah after a one-line change ({asked}: {s.driver}): first "
              f"build {built:.1f} s (pip installs {s.wheels} wheels), rebuild {rebuilt:.1f} s, "
              f"ratio {ratio:.2f}x (no target: printed for reference, what a code-only change "
              "costs with no earlier pushed image; with one it takes the code layer, below)")
        print(f"  parity check after each: {first_check:.1f} s after the first build, "
              f"{again_check:.1f} s after the rebuild (build + check: {first:.1f} s, "
              f"{again:.1f} s)")
        return ratio


def bench_code_layer(asked: str) -> float:
    """Code-only promote by the code-layer path (no builder: the layer, config and manifest
    straight to a registry on loopback) vs the first build and push with a buildah storage
    driver: vfs is what an unprivileged pod gets. The parity check after each is left out
    of both times (the code-layer path runs it only where a builder can run the image) and
    printed beside them."""
    from promote_fixtures import serve_registry

    with setup(asked) as s, serve_registry(s.work) as registry:
        service = PromoteService(PromoteConfig(
            root_dir=s.root, registry=f"{registry}/bench", tls_verify=False,
            buildah_root=s.store["root"], buildah_runroot=s.store["runroot"],
            buildah_storage_driver=asked, store_path=s.work / "p.sqlite"), _summary)
        body = {"entrypoint": "proj/train.ipynb", "base_image": s.base}

        async def promote() -> tuple[float, float, str]:
            t = time.perf_counter()
            async for event in service.build("proj", body):
                if event["type"] == "end":
                    promotion = event["promotion"]
            assert promotion["status"] == "pushed", promotion
            check = (promotion.get("parity") or {}).get("seconds") or 0.0
            return time.perf_counter() - t, check, promotion["build_path"]["path"]

        (first, first_check, how), (again, again_check, how_again) = before_and_after_a_change(
            service, s, body, promote)
        assert (how, how_again) == ("full_build", "code_layer"), (how, how_again)
        built, layered = first - first_check, again - again_check
        ratio = layered / built
        print(f"code-only promote by the code layer vs the first build and push ({asked}: "
              f"{s.driver}): first {built:.1f} s, code layer {layered:.2f} s, ratio "
              f"{ratio:.3f}x (target <= 0.10x with vfs)"
              + (f" {'OK' if ratio <= 0.10 else 'OVER'}" if s.driver == "vfs" else ""))
        print(f"  parity check after each: {first_check:.1f} s after the build, "
              f"{again_check:.1f} s after the code layer (with buildah's pull of the image, which "
              "only the check needs)")
        return ratio


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--skip-context", action="store_true")
    parser.add_argument("--skip-code-layer", action="store_true")
    parser.add_argument("--only-code-layer", action="store_true",
                        help="measure only the code-layer path against the first builds")
    parser.add_argument("--storage-driver", nargs="+", default=["auto", "vfs"],
                        choices=["auto", "overlay", "vfs"],
                        help="buildah storage drivers to measure the rebuild with")
    args = parser.parse_args()
    if args.only_code_layer:
        args.skip_context = args.skip_build = True
    if not args.skip_context:
        bench_context(args.rounds)
    if not args.skip_build:
        for driver in args.storage_driver:
            bench_rebuild(driver)
    if not args.skip_code_layer:
        for driver in args.storage_driver:
            bench_code_layer(driver)


if __name__ == "__main__":
    main()
