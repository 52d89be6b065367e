"""The builders' pure parts: which builder a promotion that names none gets, kaniko's
settings, and how an image reference names its repository (the docker builder finds
the pushed digest by it). The builds themselves are in test_promote_build.py
(buildah), test_promote_docker.py (a real dockerd) and test_promote_kaniko.py."""

from __future__ import annotations

import pytest

from jupyter_ray_dev.errors import BadRequest
from jupyter_ray_dev.promote.builders import Availability, KanikoConfig
from jupyter_ray_dev.promote.builders.base import repository
from jupyter_ray_dev.promote.options import PromoteOptions
from jupyter_ray_dev.promote.build import preferred as _preferred


def _found(*usable: str) -> list[Availability]:
    return [Availability(n, n in usable, "why") for n in ("buildah", "docker", "kaniko")]


def test_the_default_builder_unless_it_cannot_run_then_the_first_that_can():
    assert _preferred(_found("buildah", "docker"), "docker") == "docker"
    assert _preferred(_found("docker", "kaniko"), "buildah") == "docker"
    assert _preferred(_found("kaniko"), "buildah") == "kaniko"
    # none can: keep the default, so the refusal lists every builder and why
    assert _preferred(_found(), "docker") == "docker"


def test_a_request_names_a_known_builder_or_none():
    assert PromoteOptions.from_request({"builder": "kaniko"}).builder == "kaniko"
    assert PromoteOptions.from_request({}).builder is None
    with pytest.raises(BadRequest) as err:
        PromoteOptions.from_request({"builder": "podman"})
    assert err.value.details["field"] == "builder"
    assert "buildah, docker, kaniko" in err.value.message


def test_kaniko_settings_are_checked_with_the_key_to_fix():
    cfg = KanikoConfig.from_dict({"context": "artifacts/ctx", "schedule_timeout": 60})
    assert (cfg.context, cfg.schedule_timeout) == ("artifacts/ctx", 60.0)
    for raw, says in [({"contxt": "a"}, "unknown key 'contxt'"),
                      ({"registry_secret": 3}, "['registry_secret'] must be a string"),
                      ({"schedule_timeout": 0}, "must be a number of seconds > 0"),
                      ({"poll_interval": True}, "['poll_interval'] must be a number")]:
        with pytest.raises(ValueError, match=None) as err:
            KanikoConfig.from_dict(raw)
        assert says in str(err.value) and "c.RayDev.promote_kaniko" in str(err.value)


@pytest.mark.parametrize(("image", "repo"), [
    ("127.0.0.1:5000/team/proj:abc", "127.0.0.1:5000/team/proj"),
    ("127.0.0.1:5000/proj", "127.0.0.1:5000/proj"),
    ("registry.example.com/a/b@sha256:" + "0" * 64, "registry.example.com/a/b"),
])
def test_the_repository_of_an_image_reference(image, repo):
    assert repository(image) == repo
