"""The drift rules on live data: a real Prometheus scraping a real model
service (gunicorn) and exporter, with the generated rules. Version v1 gets
inputs drawn from its reference data, v2 (the canary, same data) gets the same
inputs shifted well outside it; only v2's drift figures cross the thresholds."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from modelwatch.models.registry import REFERENCE_SAMPLE_FILE, Deployment, Registry
from tests.conftest import make_config
from tests.exporter.served import run_exporter
from tests.model_service.served import serve
from tests.prometheus_server import query, run_prometheus, wait_for
from tests.rules.test_catalogue import documented_labels

pytestmark = pytest.mark.integration
FEATURES = ("sl", "sw", "pl", "pw")


PATIENCE = 180  # seconds: the committed rules recompute the hour's figures every minute (4 x 15 s)


def _by_version(result: list[dict]) -> dict[tuple[str, str], float]:
    return {(r["metric"]["model_version"], r["metric"].get("feature", "")): float(r["value"][1]) for r in result}


def test_drifted_inputs_cross_the_drift_thresholds_and_normal_ones_do_not(state_dir, keys, tmp_path):
    config = make_config(state_dir)
    registry = Registry(config.paths.registry_dir, config.model.name)
    registry.set_deployment(Deployment("v1", "v2", 0.0))
    sample = json.loads((registry.version_dir("v1") / REFERENCE_SAMPLE_FILE).read_text())["rows"]
    rows = np.array([[row[f] for f in FEATURES] for row in sample])
    rng = np.random.default_rng(3)
    normal = rows[rng.choice(len(rows), 400)]
    drifted = normal * 1.6 + 1.5  # most values beyond the reference range

    with serve(state_dir, workers=2) as (service, _), run_exporter(state_dir, ('model_version="v2"',)) as (exporter, _):
        prom_config = make_config(
            state_dir,
            SERVICE__PORT=service.rsplit(":", 1)[1], EXPORTER__PORT=exporter.rsplit(":", 1)[1],
            PROMETHEUS__SCRAPE_INTERVAL_SECONDS=1, PROMETHEUS__EVALUATION_INTERVAL_SECONDS=1,
        )
        with run_prometheus(prom_config, tmp_path) as prometheus:
            # Counters start at zero before any traffic, so the first scrape is the window's start.
            wait_for(prometheus, 'model_input_feature_bucket_total{model_version="v2"}', lambda r: len(r) > 0)
            wait_for(prometheus, "modelwatch_baseline_feature_fraction", lambda r: len(r) > 0)
            headers = {"X-API-Key": keys["user"]}
            for version, inputs in (("v1", normal), ("v2", drifted)):
                for chunk in np.array_split(inputs, 4):
                    answer = requests.post(f"{service}/api/v1/models/{version}/predict", headers=headers,
                                           json={"instances": chunk.round(2).tolist()}, timeout=10)
                    assert answer.status_code == 200, answer.text

            every = lambda r: len(r) == 2 * len(FEATURES)  # noqa: E731 - both versions, every feature
            psi = _by_version(wait_for(prometheus, "model_version_feature:model_input_feature:psi1h", every, timeout=PATIENCE))
            ks = _by_version(wait_for(prometheus, "model_version_feature:model_input_feature:ks1h", every, timeout=PATIENCE))
            out = _by_version(wait_for(prometheus, "model_version_feature:model_input_feature:out_of_range_ratio1h", every, timeout=PATIENCE))
            mix = _by_version(wait_for(prometheus, "model_version:model_predicted_class:psi1h", lambda r: len(r) == 2, timeout=PATIENCE))
            pending = wait_for(prometheus, 'ALERTS{alertname="ModelwatchFeatureDrift", alertstate="pending"}',
                               lambda r: len(r) > 0, timeout=PATIENCE)
            recorded = query(prometheus, '{__name__=~"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+"}')

    # Every recorded series carries exactly the labels the catalogue gives it.
    wrong = {
        (r["metric"]["__name__"], tuple(sorted(set(r["metric"]) - {"__name__"})))
        for r in recorded
        if set(r["metric"]) - {"__name__"} != documented_labels(r["metric"]["__name__"])
    }
    assert len({r["metric"]["__name__"] for r in recorded}) > 30
    assert not wrong, wrong

    alerts = config.alerts
    for feature in FEATURES:
        assert psi[("v1", feature)] < alerts.drift_psi_warning, (feature, psi)
        assert ks[("v1", feature)] < alerts.drift_ks_warning, (feature, ks)
        assert out[("v1", feature)] < alerts.out_of_range_warning, (feature, out)  # validation rows may lie just outside
        assert psi[("v2", feature)] > alerts.drift_psi_critical, (feature, psi)
        assert ks[("v2", feature)] > alerts.drift_ks_critical, (feature, ks)
    assert max(out[("v2", f)] for f in FEATURES) > alerts.out_of_range_warning
    assert mix[("v1", "")] < alerts.drift_psi_warning < mix[("v2", "")]
    assert {a["metric"]["model_version"] for a in pending} == {"v2"}
