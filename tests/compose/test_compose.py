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
