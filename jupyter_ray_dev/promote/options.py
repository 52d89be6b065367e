"""What a promote request may choose, validated before any work (the request's only input).

The models are the one definition the REST API, the CLI and ``%ray_promote`` read
(``request_model``): a field added here is an option of all three.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Union

from ..errors import BadRequest
from ..request_model import RequestModel, option
from .builder_registry import BUILDER_NAMES
from .dockerfile import IMAGE_REF
from .schedule import Schedule, check_cron, check_zone
from .serve import check_import_path
from .source import check_source_run

# rayjob: a RayJob and a RayCluster of the image; rayservice: the project's Serve app;
# raycronjob: a RayCronJob stamping that same RayJob on a schedule
VARIANTS = ("rayjob", "rayservice", "raycronjob")
SCHEDULE_FIELDS = ("schedule", "time_zone", "suspend")


def _image_ref(value: str, name: str) -> str:
    if not IMAGE_REF.match(value):
        raise BadRequest(
            f"`{name}` {value!r} is not an image reference: use registry/name:tag in lower "
            "case, e.g. registry.example.com/team/project:v1.", field=name)
    return value


def _variant(value: Any, name: str) -> str:
    value = value or "rayjob"
    if value not in VARIANTS:
        raise BadRequest("`variant` must be rayjob (a RayJob and a RayCluster), rayservice "
                         "(a RayService of the project's Serve app) or raycronjob (a "
                         "RayCronJob running the RayJob on a schedule).", field=name)
    return value


@dataclass(frozen=True)
class PromoteOptions(RequestModel):
    what = "promote request"

    entrypoint: str | None = option(
        help="the .py/.ipynb the image runs (default: the project's only one); relative to "
             "the Jupyter root (REST), to the project folder or the current directory "
             "(command line)", short="-e", path="project")
    image: str | None = option(
        help="target reference, registry/name:tag (default: c.RayDev.promote_registry/"
             "<project>:<inputs hash>; with --no-push and no registry, "
             "localhost/<project>:<inputs hash>)", check=_image_ref, metavar="REF")
    base_image: str | None = option(
        help="the image to build FROM (default: rayproject/ray of the dev cluster's Ray and "
             "Python)", check=_image_ref, metavar="REF")
    gpu: bool | None = option(help="the -gpu base image (default: when the dev cluster has "
                                   "GPUs)")
    push: bool = option(True, help="--no-push: build only, push nothing (pushing is the "
                                      "default)")
    builder: str | None = option(
        help="image builder: buildah, docker, kaniko or one a site registers (default: "
             "c.RayDev.promote_builder, itself buildah by default)",
        choices=BUILDER_NAMES)
    variant: str = option(
        "rayjob", raw=True, check=_variant, choices=VARIANTS,
        help="manifests: a RayJob and a RayCluster (rayjob, the default), a RayService of "
             "the project's Serve app (rayservice) or a RayCronJob running the RayJob on "
             "--schedule (raycronjob)")
    serve_app: str | None = option(
        help="the Serve app the RayService deploys (default: serve_config.yaml, else "
             "`app = X.bind()` in the entrypoint)", check=check_import_path,
        metavar="MODULE:APP")
    schedule: str | None = option(
        help="raycronjob: five cron fields, e.g. '0 2 * * 1-5'; the review shows the next "
             "five runs", check=lambda value, _name: check_cron(value), metavar="CRON")
    time_zone: str | None = option(
        help="raycronjob: the schedule's zone, e.g. Europe/Berlin (default: the operator's, "
             "UTC)", check=lambda value, _name: check_zone(value), metavar="IANA")
    suspend: bool = option(False, help="raycronjob: create it suspended (no runs until "
                                       "resumed)")
    source_run: str | None = option(
        "latest", check=lambda value, name: check_source_run(value), metavar="RUN",
        help="where the pinned versions come from: latest (the project's latest succeeded "
             "run, the default), a run's submission id, or server (this server's Python)")

    def __post_init__(self) -> None:
        # the schedule fields belong together with the variant: checked across fields here
        if self.variant == "raycronjob":
            if self.schedule is None:
                check_cron(None)  # the 400 saying a RayCronJob needs one
            return
        given = next((k for k in SCHEDULE_FIELDS if getattr(self, k) not in (None, "", False)),
                     None)
        if given:
            raise BadRequest(f"`{given}` belongs to a scheduled promotion: set `variant` to "
                             "raycronjob, or leave it out.", field=given)

    @property
    def timing(self) -> Schedule | None:
        """The raycronjob variant's schedule; None for the other variants."""
        if self.variant != "raycronjob" or self.schedule is None:
            return None
        return Schedule(self.schedule, self.time_zone or None, self.suspend)


@dataclass(frozen=True)
class PackageRequest(PromoteOptions):
    """The runtime_env path: a promote request plus where the code zip goes."""

    what = "package request"

    storage_root: str | None = option(
        help="the name of an s3:// or gs:// storage root the cluster's nodes can read")


@dataclass(frozen=True)
class ReapplyRequest(RequestModel):
    """Apply one of a recorded promotion's manifests again."""

    what = "re-apply request"

    kind: str | None = option(help="the manifest to apply: RayCronJob, RayJob, RayService or "
                                    "RayCluster (default: the promotion's main one)")
    dry_run: bool = option(True, help="show the diff against the cluster, change nothing")
    force: bool = option(False, help="take over fields another manager owns")


@dataclass(frozen=True)
class PushRequest(RequestModel):
    """Push a built image its parity check held back."""

    what = "push request"

    override: bool = option(False, help="push although the image's parity check failed or "
                                        "could not run (Push anyway): the history records it")


# what the promote core accepts: the model, or a JSON body validated into it
PromoteRequestLike = Union[PromoteOptions, Mapping[str, Any], None]


def registry_host(image: str) -> str | None:
    """The registry part of a reference, or None when it would default to Docker Hub or is
    bare ``localhost``: the name buildah and podman give images that stay on this machine
    (a registry on this host has a port: ``localhost:5000/``)."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first):
        return first
    return None
