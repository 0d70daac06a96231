"""The compose deployment: its generated files accepted by
promtool and amtool, the compose file accepted by docker-compose, HAProxy's
configuration by HAProxy, and its mounts pointing at the generated rules and
dashboards."""

from __future__ import annotations

import subprocess

import yaml

from modelwatch.core.config import Config
from tests.conftest import ROOT, require_binary

COMPOSE_DIR = ROOT / "compose"


def test_docker_compose_accepts_the_file():
    result = subprocess.run([require_binary("docker-compose"), "-f", str(COMPOSE_DIR / "docker-compose.yml"), "config"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert {"model-service", "haproxy", "exporter", "prometheus", "alertmanager", "grafana"} <= set(resolved["services"])
    for service in resolved["services"].values():  # everything published on loopback only
        for port in service.get("ports", []):  # docker-compose 1.x prints "127.0.0.1:8000:8000/tcp"
            assert str(port).startswith("127.0.0.1:"), port


def test_the_models_override_mounts_the_host_registry_into_the_service_and_the_exporter(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "MODELWATCH_MODELS_DIR": str(tmp_path / "models"),
           "MODELWATCH_PREDICTION_ID_KEY_FILE": str(tmp_path / "prediction-id.key")}
    result = subprocess.run([require_binary("docker-compose"), "-f", str(COMPOSE_DIR / "docker-compose.yml"),
                             "-f", str(COMPOSE_DIR / "docker-compose.models.yml"), "config"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    for name, targets in (("model-service", {"/var/lib/modelwatch/models", "/var/lib/modelwatch/secrets/prediction-id.key",
                                             "/var/lib/modelwatch/keys.json"}),
                          ("exporter", {"/var/lib/modelwatch/models"})):
        mounts = {_target(volume): volume for volume in services[name]["volumes"]}
        assert targets <= set(mounts), (name, mounts)
        assert str(tmp_path / "models") in str(mounts["/var/lib/modelwatch/models"])
        assert _read_only(mounts["/var/lib/modelwatch/models"])


def test_the_replicas_share_the_prediction_id_key_and_a_writable_label_record(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "MODELWATCH_PREDICTION_ID_KEY_FILE": str(tmp_path / "prediction-id.key")}
    result = subprocess.run([require_binary("docker-compose"), "-f", str(COMPOSE_DIR / "docker-compose.yml"), "config"],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    service = resolved["services"]["model-service"]
    mounts = {_target(volume): volume for volume in service["volumes"]}
    assert _read_only(mounts["/var/lib/modelwatch/secrets/prediction-id.key"])
    assert str(tmp_path / "prediction-id.key") in str(mounts["/var/lib/modelwatch/secrets/prediction-id.key"])
    record = mounts["/var/lib/modelwatch/feedback"]  # a named volume: every replica mounts the same one
    assert service["read_only"] and not _read_only(record)
    assert (record["source"] if isinstance(record, dict) else record.split(":")[0]) in resolved["volumes"]


def _target(volume) -> str:  # docker-compose 1.x prints "source:target:mode", 2.x a mapping
    return volume["target"] if isinstance(volume, dict) else volume.split(":")[1]


def _read_only(volume) -> bool:
    return volume.get("read_only", False) if isinstance(volume, dict) else volume.endswith(":ro")


def test_prometheus_and_alertmanager_configurations_are_valid():
    check = subprocess.run([require_binary("promtool"), "check", "config", "--syntax-only",
                            str(COMPOSE_DIR / "prometheus.yml")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    check = subprocess.run([require_binary("amtool"), "check-config", str(COMPOSE_DIR / "alertmanager.yml")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_haproxy_accepts_its_configuration():
    check = subprocess.run([require_binary("haproxy"), "-c", "-f", str(COMPOSE_DIR / "haproxy.cfg")],
                           capture_output=True, text=True)
    assert check.returncode == 0 and "Configuration file is valid" in check.stdout, check.stdout + check.stderr


def test_prometheus_scrapes_every_replica_under_the_job_names_the_rules_use():
    jobs = {job["job_name"]: job for job in yaml.safe_load((COMPOSE_DIR / "prometheus.yml").read_text())["scrape_configs"]}
    config = Config()
    assert jobs[config.alerts.service_job]["dns_sd_configs"][0]["names"] == ["model-service"]
    assert config.alerts.exporter_job in jobs and "haproxy" in jobs
    for job in (config.alerts.service_job, config.alerts.exporter_job):  # the drift shards read feature_slot as sent
        assert "metric_relabel_configs" not in jobs[job]
    # The service's /metrics is scraped on the port compose gives it, which HAProxy does not forward.
    service = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())["services"]["model-service"]
    metrics_port = int(service["environment"]["MODELWATCH_SERVICE__METRICS_PORT"])
    assert jobs[config.alerts.service_job]["dns_sd_configs"][0]["port"] == metrics_port
    assert f"model-service:{metrics_port}" not in (COMPOSE_DIR / "haproxy.cfg").read_text()


def test_mounts_point_at_the_generated_rules_and_dashboards():
    services = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())["services"]
    for service in ("prometheus", "grafana"):
        for volume in services[service]["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE_DIR / source).resolve().exists(), f"{service}: {source} does not exist"
    haproxy = (COMPOSE_DIR / "haproxy.cfg").read_text()
    assert "balance leastconn" in haproxy and "option httpchk GET /readyz" in haproxy
    assert "prometheus-exporter" in haproxy


def test_only_the_socket_proxy_mounts_the_engine_and_each_user_gets_its_own_socket():
    services = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())["services"]
    mounting = {name for name, service in services.items()
                if any("docker.sock" in str(volume).split(":")[0] for volume in service.get("volumes", []))}
    assert mounting == {"docker-socket-proxy"}
    proxy_mounts = {str(volume).split(":")[1]: str(volume).split(":")[0] for volume in services["docker-socket-proxy"]["volumes"]}
    for user in ("exporter", "autoscaler"):
        volume = f"docker-proxy-{user}"
        assert services[user]["environment"]["DOCKER_HOST"] == "unix:///run/docker-proxy/docker.sock"
        assert f"{volume}:/run/docker-proxy" in services[user]["volumes"]
        assert proxy_mounts[f"/run/docker-proxy/{user}"] == volume  # the proxy's socket for it lives there
        others = [name for name, service in services.items() if name not in (user, "docker-socket-proxy")
                  and any(str(v).startswith(volume) for v in service.get("volumes", []))]
        assert others == [], f"{others} could reach the {user}'s socket"
    check = subprocess.run([require_binary("haproxy"), "-c", "-f", str(COMPOSE_DIR / "docker-socket-proxy.cfg")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_services_built_here_are_confined_and_the_tools_cannot_be_taken_over():
    services = yaml.safe_load((COMPOSE_DIR / "docker-compose.yml").read_text())["services"]
    for name in ("model-service", "exporter", "autoscaler"):
        service = services[name]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["cpus"] and service["mem_limit"], name
    assert not any("--web.enable-lifecycle" in part for part in services["prometheus"]["command"])
    grafana = services["grafana"]["environment"]
    assert grafana["GF_AUTH_DISABLE_LOGIN_FORM"] == "true" and grafana["GF_AUTH_BASIC_ENABLED"] == "false"
