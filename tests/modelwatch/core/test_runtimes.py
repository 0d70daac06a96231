"""The runtime table: each row is complete and coherent, and a new row is all a
new runtime needs for the replica records to cover it."""

from __future__ import annotations

import yaml

from modelwatch.autoscaler.backends import BACKENDS
from modelwatch.core import runtimes
from modelwatch.core.config import Config
from modelwatch.core.runtimes import RESOURCES, RUNTIMES, Runtime
from modelwatch.rules import rule_files
from tests.conftest import ROOT


def test_every_row_names_known_resources_and_backends():
    for runtime in RUNTIMES.values():
        assert set(runtime.series) <= set(RESOURCES), runtime.name
        assert {"cpu_seconds", "memory_bytes"} <= set(runtime.series), runtime.name  # what every replica has
        assert runtime.autoscaler_backend in (*BACKENDS, None)
        assert runtime.selector("cpu_seconds", Config())


def test_the_compose_row_is_what_the_compose_files_use():
    compose = yaml.safe_load((ROOT / "compose/docker-compose.yml").read_text())
    command = " ".join(compose["services"]["autoscaler"]["command"])
    assert f"--backend {RUNTIMES['compose'].autoscaler_backend}" in command
    prometheus = yaml.safe_load((ROOT / "compose/prometheus.yml").read_text())
    service = next(job for job in prometheus["scrape_configs"] if job["job_name"] == Config().alerts.service_job)
    assert {k: v for k, v in service.items() if k != "job_name"} == \
        RUNTIMES["compose"].service_scrape(Config())


def test_a_new_row_is_all_the_replica_records_need(monkeypatch):
    nomad = Runtime("nomad", "an allocation", series={"cpu_seconds": "nomad_client_allocs_cpu_total_ticks",
                                                      "memory_bytes": "nomad_client_allocs_memory_usage"},
                    replica_label="alloc_id", replica_selector=lambda c: 'task="model-service"')
    monkeypatch.setitem(runtimes.RUNTIMES, "nomad", nomad)
    resources = yaml.safe_load(rule_files(Config())["resources.rules.yml"])
    records = {rule["record"]: rule["expr"] for group in resources["groups"] for rule in group["rules"] if "record" in rule}
    assert 'rate(nomad_client_allocs_cpu_total_ticks{task="model-service"}[5m])' in records["modelwatch:replica_cpu_seconds:rate5m"]
    assert '"alloc_id"' in records["modelwatch:replica_memory_bytes:sum"]
    assert "nomad" not in records["modelwatch:replica_read_bytes:rate5m"]  # it has no such series: left out
