"""A local Ray head that requires a token, one per test module that imports the fixture."""

from __future__ import annotations

import pytest

from jupyter_ray_dev.cluster.local_head import LocalRayHead


@pytest.fixture(scope="module")
def token_head():
    head = LocalRayHead(num_cpus=1, token_auth=True)
    head.start()
    yield head
    head.stop()
