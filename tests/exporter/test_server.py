"""``modelwatch exporter`` as users run it, and its catalogue in docs/metrics.md."""

from __future__ import annotations

import re
import subprocess
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_binary
from tests.exporter.docker_engine import IMAGE
from tests.exporter.fake_kube_api import FakeApiServer
from tests.exporter.served import run_exporter
from tests.model_service.served import free_port
from tests.model_service.test_metrics import catalogue

pytestmark = pytest.mark.integration
PREFIXES = ("modelwatch_", "node_", "namedprocess_", "container_", "kube_")


@pytest.fixture
def exporter_text(state_dir, docker_engine, tmp_path):
    kube_api = FakeApiServer()
    label = f"modelwatch.test={uuid.uuid4().hex[:8]}"
    container = docker_engine.client.containers.run(IMAGE, ["sleep", "600"], detach=True, network_mode="none",
                                                    labels=dict([label.split("=")]))
    # Every collector; the probe aimed at a port where nothing listens.
    env = dict(MODELWATCH_EXPORTER__PROBE_KEY="unused",
               MODELWATCH_EXPORTER__PROBE_URL=f"http://127.0.0.1:{free_port()}",
               MODELWATCH_EXPORTER__DOCKER_LABEL_FILTER=label,
               KUBECONFIG=str(kube_api.kubeconfig(tmp_path / "kubeconfig")),
               MODELWATCH_EXPORTER__KUBERNETES_NAMESPACES="modelwatch",
               MODELWATCH_EXPORTER__COLLECTORS="baseline,host,process,docker,kubernetes,probe")
    try:
        # Wait for a scrape where every collector has had its first sample (the container's
        # first stats, the probe's first answer): the catalogue is checked against it.
        with run_exporter(state_dir, ("container_last_seen{", "modelwatch_probe_success{"), env) as (_, text):
            yield text
    finally:
        container.remove(force=True)
        kube_api.server.shutdown()


def test_exporter_serves_baselines_and_lints_clean(exporter_text):
    promtool = require_binary("promtool")
    lint = subprocess.run([promtool, "check", "metrics"], input=exporter_text, capture_output=True, text=True)
    problems = [line for line in (lint.stdout + lint.stderr).splitlines() if line.strip()]
    # node_exporter's own memory names are camelCase; keeping them is the point of the host collector.
    unexpected = [p for p in problems if not re.match(r"^node_memory_\w+_bytes metric names should be written in", p)]
    assert unexpected == [], unexpected
    assert 'modelwatch_scrape_collector_success{collector="baseline"} 1.0' in exporter_text
    assert 'modelwatch_scrape_collector_success{collector="host"} 1.0' in exporter_text
    assert 'modelwatch_scrape_collector_success{collector="docker"} 1.0' in exporter_text
    assert 'modelwatch_scrape_collector_success{collector="kubernetes"} 1.0' in exporter_text


def test_catalogue_lists_exactly_the_exporters_series(exporter_text):
    served = {}
    for family in text_string_to_metric_families(exporter_text):
        if family.name.startswith(PREFIXES) and family.samples:
            name = family.name + ("_total" if family.type == "counter" else "")
            served[name] = (family.type, {k for s in family.samples for k in s.labels})
    documented = {name: row for name, row in catalogue("Exporter").items() if name.startswith(PREFIXES)}
    # Series that appear only when something fails, or only while the service runs, are documented too.
    for name in ("modelwatch_scrape_collector_error_info", "modelwatch_baseline_load_failures_total",
                 # the performance baseline's series appear once a baseline is recorded
                 *(n for n in documented if n.startswith("modelwatch_baseline_") and n.split("_")[2] in
                   ("latency", "requests", "cpu", "memory", "error")),
                 "namedprocess_namegroup_oldest_start_time_seconds",
                 # block I/O (empty on some hosts), networks (the test container has none), CFS
                 # throttling (only under a CPU quota, as cAdvisor; tests/exporter/test_docker.py)
                 *(n for n in documented if n.startswith(("container_fs_", "container_network_", "container_cpu_cfs_"))),
                 *(n for n in documented if n.startswith("modelwatch_probe_") and not n.endswith("_total")),
                 # a regressor's prediction buckets (the stack serves the Iris classifier)
                 *(n for n in documented if n.startswith("modelwatch_baseline_prediction_")),
                 *(n for n in documented if n.startswith("modelwatch_process_"))):
        served.setdefault(name, documented.get(name))
    assert served == documented
