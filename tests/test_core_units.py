"""The pure parts of the cluster core: address forms, auth resolution, summary shaping."""

from __future__ import annotations

import pytest

from jupyter_ray_dev.cluster import build_cluster_summary, resolve_auth, resolve_dashboard_address
from jupyter_ray_dev.cluster.auth import RayAuth
from jupyter_ray_dev.errors import RayAddressInvalid, RayAuthFailed


@pytest.mark.parametrize(
    ("given", "dashboard"),
    [
        ("", "http://127.0.0.1:8265"),
        ("auto", "http://127.0.0.1:8265"),
        ("http://10.0.0.5:8265/", "http://10.0.0.5:8265"),
        ("https://ray.example.org/dash", "https://ray.example.org/dash"),
        ("ray://raycluster-head-svc:10001", "http://raycluster-head-svc:8265"),
        ("127.0.0.1:6379", "http://127.0.0.1:8265"),  # what KubeRay sets on the head pod
        ("raycluster-head-svc.ml.svc:6379", "http://raycluster-head-svc.ml.svc:8265"),
        ("[::1]:6379", "http://[::1]:8265"),
    ],
)
def test_dashboard_address_from_every_form_users_meet(given, dashboard):
    assert resolve_dashboard_address(given) == dashboard


@pytest.mark.parametrize("bad", ["grpc://host:1", "http://", "ray://"])
def test_bad_address_names_the_setting_and_the_forms(bad):
    with pytest.raises(RayAddressInvalid) as err:
        resolve_dashboard_address(bad)
    assert err.value.status == 503
    assert err.value.details["setting"] == "c.RayDev.ray_address"
    assert "http" in err.value.message


def test_auth_env_token_wins_over_files(tmp_path):
    token_file = tmp_path / "tok"
    token_file.write_text("from-file\n")
    auth = resolve_auth({"RAY_AUTH_TOKEN": "from-env", "RAY_AUTH_TOKEN_PATH": str(token_file)},
                        home=tmp_path)
    assert (auth.mode, auth.token, auth.source) == ("token", "from-env", "RAY_AUTH_TOKEN")
    assert auth.headers() == {"Authorization": "Bearer from-env"}
    assert "from-env" not in repr(auth)  # never leaks into logs


def test_auth_token_path_then_home_default(tmp_path):
    token_file = tmp_path / "tok"
    token_file.write_text("abc\n")
    assert resolve_auth({"RAY_AUTH_TOKEN_PATH": str(token_file)}, home=tmp_path).token == "abc"
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("home-token")
    auth = resolve_auth({"RAY_AUTH_MODE": "token"}, home=tmp_path)
    assert (auth.token, auth.source) == ("home-token", str(tmp_path / ".ray" / "auth_token"))


def test_auth_mode_unset_follows_ray_token_present_means_token(tmp_path):
    assert resolve_auth({}, home=tmp_path) == RayAuth(mode="none")
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("t")
    assert resolve_auth({}, home=tmp_path).mode == "token"
    # an explicit "disabled" wins over a token on disk, as in Ray
    assert resolve_auth({"RAY_AUTH_MODE": "disabled"}, home=tmp_path).mode == "none"


def test_token_mode_without_token_says_where_to_put_it(tmp_path):
    with pytest.raises(RayAuthFailed) as err:
        resolve_auth({"RAY_AUTH_MODE": "token"}, home=tmp_path)
    assert "RAY_AUTH_TOKEN" in err.value.message


def _node(node_id, state="ALIVE", head=False, **resources):
    return {"node_id": node_id, "node_ip": f"10.0.0.{len(node_id)}", "node_name": node_id,
            "is_head_node": head, "state": state,
            "resources_total": {"node:10.0.0.1": 1.0, "accelerator_type:A100": 1.0, **resources}}


def test_summary_totals_count_alive_nodes_and_map_camel_case_usage():
    nodes = [
        _node("w1", CPU=8.0, GPU=1.0, object_store_memory=100.0, my_custom=2.0),
        _node("head", head=True, CPU=4.0, memory=1000.0),
        _node("w2-dead", state="DEAD", CPU=8.0),
        _node("w3-new", CPU=8.0),  # joined; no usage reported yet
    ]
    usage = {
        "w1": {"CPU": [3.0, 8.0], "GPU": [1.0, 1.0], "objectStoreMemory": [40.0, 100.0],
               "myCustom": [0.5, 2.0]},
        "head": {"CPU": [0.0, 4.0], "memory": [250.0, 1000.0]},
    }
    summary = build_cluster_summary(
        address="http://h:8265", dashboard_url="http://h:8265", auth=RayAuth("none"),
        version={"ray_version": "2.60.0", "session_name": "s"},
        metadata={"rayVersion": "2.60.0", "pythonVersion": "3.11.7"},
        nodes=nodes, usage_by_node=usage, kuberay=None,
    )
    assert [n["node_id"] for n in summary["nodes"]] == ["head", "w1", "w3-new", "w2-dead"]
    assert (summary["alive_nodes"], summary["dead_nodes"]) == (3, 1)
    assert summary["totals"]["CPU"] == {"total": 20.0, "available": 17.0}
    assert summary["totals"]["GPU"] == {"total": 1.0, "available": 0.0}
    assert summary["totals"]["object_store_memory"] == {"total": 100.0, "available": 60.0}
    assert summary["totals"]["my_custom"] == {"total": 2.0, "available": 1.5}
    assert summary["totals"]["memory"] == {"total": 1000.0, "available": 750.0}
    assert "accelerator_type:A100" not in summary["totals"]
    dead = summary["nodes"][-1]
    assert dead["resources_available"] is None
    assert summary["nodes"][2]["resources_available"] is None  # unknown, not "idle"
