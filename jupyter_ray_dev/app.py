"""The server extension: configuration (``c.RayDev.*``) and route registration."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Bool, Dict, Enum, Float, List, TraitError, Unicode, default, validate

from .errors import RayDevError
from .service import RayDevConfig, RayDevService

DASHBOARD_PATH = "ray-dev/dashboard/"  # the dashboard proxy (handlers/dashboard.py)
KERNEL_ACTIONS = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"
LEFTOVERS_DELAY = 3.0  # seconds after the event loop starts: the first requests go first


class RayDev(ExtensionApp):
    """Interactive Ray development on the head node of a (KubeRay) Ray cluster."""

    name = "jupyter_ray_dev"
    load_other_extensions = True

    ray_address = Unicode(
        help=(
            "Address of the Ray cluster: the dashboard URL (http://host:8265), a Ray Client "
            "address (ray://host:10001) or the GCS address (host:6379) that KubeRay puts in "
            "RAY_ADDRESS. Default: $RAY_ADDRESS, else the local dashboard http://127.0.0.1:8265."
        )
    ).tag(config=True)

    dashboard_url = Unicode(
        "",
        help=(
            "URL of the Ray dashboard as the user's browser reaches it in a browser tab, when "
            "not through this server (an Ingress). Default: the dashboard through this server, "
            "<base_url>ray-dev/dashboard/, which adds the Ray token for the browser."
        ),
    ).tag(config=True)

    request_timeout = Float(
        5.0, help="Seconds to wait for the Ray dashboard before reporting it unreachable."
    ).tag(config=True)

    shared_roots = List(
        Unicode(),
        default_value=[],
        help=(
            "Folders mounted at the same path on every Ray node (NFS/EFS). A job launched from a "
            "project under one of them uses its folder in place (working_dir local:///path): "
            "nothing is uploaded, so Ray's 100 MiB upload limit does not apply."
        ),
    ).tag(config=True)

    job_store_path = Unicode(
        "",
        help="SQLite file of the job history. Default: <jupyter data dir>/ray_dev/jobs.sqlite.",
    ).tag(config=True)

    ray_temp_dir = Unicode(
        "",
        help=(
            "Temp dir of the Ray head on this machine (`ray start --temp-dir`). Live logs of "
            "drivers running here are read from its session logs in place, faster than Ray's "
            "log tail. Default: Ray's own ($RAY_TMPDIR or /tmp, then /ray)."
        ),
    ).tag(config=True)

    record_runs = Bool(
        True,
        help=(
            "Run each job's driver through a small launcher that records what the run used "
            "(its Python, installed and imported distributions, the runtime_env as "
            "submitted): promote pins the image's requirements from the latest succeeded "
            "run. Off: jobs run their entrypoint directly and promote pins from this "
            "server's Python."
        ),
    ).tag(config=True)

    job_upload_limit_mib = Float(
        100.0,
        help=(
            "Largest working_dir upload (MiB) a job may need. Ray's dashboard refuses requests "
            "over 100 MiB (ray#55877); larger projects fail before submitting, with the fix."
        ),
    ).tag(config=True)

    storage_roots = List(
        help=(
            "Storage roots the Storage panel browses. Each is a dict: name (URL-safe, unique), "
            "url (/mnt/shared, file:///mnt/shared, s3://bucket/prefix, gs://bucket/prefix), "
            "options (fsspec options: endpoint_url, anon, profile, key/secret, token, ...) and "
            "read_only (default false); a bare URL string is accepted too. Credentials come "
            "from the environment or options and are never returned by the API. Default: "
            "$RAY_DEV_ARTIFACTS (set by `make lab`) and the NFS/EFS/FUSE mounts in /proc/mounts."
        ),
    ).tag(config=True)

    storage_timeout = Float(
        30.0,
        help="Seconds a storage call (one list page, one read, one upload part) may take before "
        "the root is reported unreachable (503).",
    ).tag(config=True)

    storage_list_process = Bool(
        True,
        help="List the next page of a paged walk of a local/NFS folder in a helper process "
        "(one per root, started on first use), so the listing runs beside the server's "
        "request handling instead of taking turns with it on one GIL. False: the next page is "
        "listed on the server's storage threads.",
    ).tag(config=True)

    capture_notebook_installs = Bool(
        True,
        help=(
            "Notice packages a notebook installs into its kernel (%pip install, !pip install, "
            "%uv pip install) that its project's runtime_env.yaml does not declare, and offer "
            "to add them, pinned. The server loads a small recorder into each Python kernel it "
            "starts (kernels whose Python has this package installed)."
        ),
    ).tag(config=True)

    kubeconfig = Unicode(
        "",
        help=(
            "kubeconfig file for the Kubernetes API (KubeRay discovery, apply, kaniko builds). "
            "Default: the pod's service account when running in Kubernetes, else $KUBECONFIG "
            "or ~/.kube/config; with none of them the extension says so and keeps working."
        ),
    ).tag(config=True)

    kubernetes_timeout = Float(
        10.0, help="Seconds to wait for the Kubernetes API server before reporting it unreachable."
    ).tag(config=True)

    promote_registry = Unicode(
        "",
        help=(
            "Registry (and path) promoted images are pushed to, e.g. registry.example.com/team: "
            "a project's image is <registry>/<project>:<inputs hash>. Credentials come from the "
            "server's environment (REGISTRY_AUTH_FILE for buildah), never from the browser."
        ),
    ).tag(config=True)

    promote_tls_verify = Bool(
        True, help="Verify the registry's TLS certificate when pushing (false only for a "
        "plain-HTTP registry on loopback or inside the cluster)."
    ).tag(config=True)

    promote_buildah_root = Unicode(
        "", help="buildah --root (image storage) for promotions. Default: buildah's own."
    ).tag(config=True)

    promote_buildah_runroot = Unicode(
        "", help="buildah --runroot for promotions. Default: buildah's own."
    ).tag(config=True)

    promote_buildah_storage_driver = Enum(
        ["auto", "overlay", "vfs"], "auto",
        help="buildah --storage-driver for promotions. auto (the default): overlay when "
        "buildah can mount it here (privileged pod, or fuse-overlayfs with /dev/fuse), else "
        "vfs. overlay makes a layer cost only what it changes (a code-only rebuild takes "
        "about a second); vfs works in any pod but copies the whole image at every step."
    ).tag(config=True)

    promote_store_path = Unicode(
        "", help="SQLite file of the promotion history. Default: "
        "<jupyter data dir>/ray_dev/promotions.sqlite."
    ).tag(config=True)

    promote_builder = Unicode(
        "buildah",
        help="Image builder for a promotion that names none: buildah (daemonless, on this "
        "pod), docker (a Docker engine the server reaches: DOCKER_HOST, credentials from "
        "DOCKER_CONFIG), kaniko (a Kubernetes Job; needs c.RayDev.promote_kaniko) or a "
        "builder a site registers (entry point group jupyter_ray_dev.builders). When it "
        "cannot run here, such a promotion uses the first registered one that can."
    ).tag(config=True)

    promote_docker_host = Unicode(
        "", help="DOCKER_HOST the docker builder talks to, e.g. unix:///var/run/docker.sock. "
        "Default: the server's environment."
    ).tag(config=True)

    promote_kaniko = Dict(
        {},
        help=(
            "kaniko builds as Kubernetes Jobs. Keys: context (required: '<storage root>/"
            "<folder>' the build context .tar.gz is uploaded to; an s3:// or gs:// root, or a "
            "local root with pvc = the PersistentVolumeClaim mounting it in the cluster), "
            "registry_secret (a kubernetes.io/dockerconfigjson Secret for the push), "
            "context_secret (AWS keys or GCP key.json Secret; none with IRSA/Workload "
            "Identity), namespace, service_account, image, s3_endpoint, aws_region, "
            "schedule_timeout (seconds for the build pod to start, default 300)."
        ),
    ).tag(config=True)

    history_server = Unicode(
        "",
        help=(
            "Where KubeRay's History Server keeps promoted runs' logs: '<storage root>/"
            "<folder>', an s3:// or gs:// root of c.RayDev.storage_roots. The generated "
            "RayCluster/RayJob/RayService/RayCronJob specs then carry historyServerOptions "
            "(KubeRay injects its log collector; the operator needs the "
            "RayClusterHistoryServer feature gate, the pods write access to the bucket). "
            "Default: none, and the review says the logs go with the cluster."
        ),
    ).tag(config=True)

    history_server_collector_image = Unicode(
        "", help="The History Server collector image the specs name. Default: KubeRay's "
        "collector of the release whose CRDs promote validates against."
    ).tag(config=True)

    @default("ray_address")
    def _default_ray_address(self) -> str:
        return os.environ.get("RAY_ADDRESS", "")

    @validate("promote_builder")
    def _registered_builder(self, proposal: Any) -> str:
        from .promote.builder_registry import builder_names

        names = builder_names()
        if proposal["value"] not in names:
            raise TraitError(f"c.RayDev.promote_builder must be a registered builder: "
                             f"{', '.join(names)}; got {proposal['value']!r}.")
        return proposal["value"]

    @default("dashboard_url")
    def _default_dashboard_url(self) -> str:
        # in the server, the dashboard through it (handlers/dashboard.py); a kernel or the
        # CLI reads the settings unlinked to a server: the address then
        return url_path_join(self.serverapp.base_url, DASHBOARD_PATH) if self._linked else ""

    @default("storage_roots")
    def _default_storage_roots(self) -> list:
        from .storage.roots import default_roots

        return default_roots()

    def ray_dev_settings(self, root_dir: str) -> RayDevConfig:
        """Every ``c.RayDev`` setting by its trait's name, for the capabilities to read theirs
        (the one place settings are read, in the server and in kernels and the CLI)."""
        values = {name: _plain(getattr(self, name))
                  for name in self.class_own_traits(config=True)}
        values["shared_roots"] = self._absolute_shared_roots()
        return RayDevConfig(root_dir=root_dir, **values)

    def _absolute_shared_roots(self) -> tuple[str, ...]:
        # not a trait validator: an extension app loads its config twice, which would warn twice
        kept = []
        for folder in self.shared_roots:
            if os.path.isabs(folder):
                kept.append(folder)
            else:
                # a JSON list on the command line arrives as one string: used as a path it
                # would put installs under the server's current folder
                self.log.warning(
                    "jupyter_ray_dev: c.RayDev.shared_roots: %r is not an absolute folder "
                    "path, ignored. On the command line give one folder per flag "
                    "(--RayDev.shared_roots=/mnt/shared --RayDev.shared_roots=/mnt/other); "
                    'in a config file, a list (c.RayDev.shared_roots = ["/mnt/shared"]).', folder)
        return tuple(kept)

    def initialize_settings(self) -> None:
        self.service = RayDevService(
            self.ray_dev_settings(self.serverapp.root_dir if self.serverapp else ""))
        if self.service.config.root_dir:
            # kernels inherit the server's environment: their magics then share its Jupyter
            # root (a kernel's own working directory is its notebook's folder)
            from .project.root import ROOT_ENV

            os.environ.setdefault(ROOT_ENV, self.service.config.root_dir)
        # checked with the cheap parser, not by building the storage service: that loads its
        # backends, previews and uploads, most of the extension's import time at start-up
        from .storage.errors import StorageConfigInvalid
        from .storage.roots import parse_roots

        try:
            parse_roots(self.storage_roots)
        except StorageConfigInvalid as err:
            # keep serving: storage calls answer 503 with this message until it is fixed
            self.log.warning("jupyter_ray_dev: %s", err.message)
        try:
            self.log.info("jupyter_ray_dev: Ray dashboard at %s", self.service.dashboard_address)
        except RayDevError as err:
            # keep serving: the panel shows this same message until the config is fixed
            self.log.warning("jupyter_ray_dev: %s", err.message)

        if self.capture_notebook_installs and self.serverapp is not None:
            self.serverapp.event_logger.add_listener(schema_id=KERNEL_ACTIONS,
                                                     listener=self._on_kernel_action)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        # what a killed server left (upload parts, half-built envs, build contexts and
        # containers) goes on a thread a few seconds after the event loop runs (the server
        # listens by now), so it takes no CPU from start-up or from the first requests
        sweeper = threading.Timer(LEFTOVERS_DELAY, _sweep_leftovers,
                                  args=(list(self.storage_roots),))
        sweeper.daemon = True
        sweeper.start()

    async def _on_kernel_action(self, logger: Any, schema_id: str, data: dict) -> None:
        """A kernel started (or restarted: a new process): load the install recorder."""
        if data.get("action") not in ("start", "restart") or data.get("status") != "success":
            return
        try:
            # the kernel started just now (installs since then are its cells')
            await self._load_recorder(str(data.get("kernel_id")), time.time() - 1.0)
        except Exception as err:  # noqa: BLE001 - a kernel without it just is not recorded
            self.log.debug("jupyter_ray_dev: no install recorder in kernel %s: %s",
                           data.get("kernel_id"), err)

    async def _load_recorder(self, kernel_id: str, started: float) -> None:
        km = self.serverapp.kernel_manager.get_kernel(kernel_id)
        spec = km.kernel_spec
        code = self.service.runtime_env.recorder_code(kernel_id, started)
        if code is None or spec is None or (spec.language or "").lower() != "python":
            return
        from jupyter_client.session import Session

        # a session of its own: a client with the manager's shares its ZMQ identity with
        # any other such client, and the kernel would answer only one of them
        client = km.client(session=Session(key=km.session.key,
                                           signature_scheme=km.session.signature_scheme))
        client.start_channels()
        try:
            # sent at once, not after a kernel_info round trip: ZMQ holds it until the kernel
            # listens, so it is ahead of the cells a notebook run sends once Lab connects
            msg_id = client.execute(code, silent=True, store_history=False, allow_stdin=False)
            while True:  # its reply: the channels are not closed under the request
                reply = await client.get_shell_msg(timeout=60)
                if reply.get("parent_header", {}).get("msg_id") == msg_id:
                    break
        finally:
            client.stop_channels()

    async def stop_extension(self) -> None:
        await self.service.close()

    def initialize_handlers(self) -> None:
        from .handlers import ROUTES

        self.handlers.extend(ROUTES)


def _sweep_leftovers(storage_roots: list) -> None:
    # imported on the sweeper's thread, not at start-up (s3fs/gcsfs only when a claim
    # names an object-store upload)
    from .leftovers import sweep_logged
    from .storage.backends.remote import abort_interrupted_upload
    from .storage.errors import StorageConfigInvalid
    from .storage.roots import parse_roots

    try:
        roots = parse_roots(storage_roots)
    except StorageConfigInvalid:
        roots = []  # uploads' claims wait for a configuration that names their roots
    sweep_logged(lambda upload: abort_interrupted_upload(roots, upload))


def _plain(value: Any) -> Any:
    """A trait's value as an immutable plain value (a traitlets list -> a tuple)."""
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, dict):
        return dict(value)
    return value
