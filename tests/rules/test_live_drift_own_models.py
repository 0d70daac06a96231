"""The registered models' drift rules on live data: a real Prometheus with the
generated rules scraping the real service (gunicorn) and exporter. Version v1
of each model gets rows of its own reference data; v2 (the canary, same
model) gets them changed — penguins with an island the reference never had and
half its sex values missing, diabetes with every feature shifted. Only v2's
figures cross the thresholds, only v2's alerts go pending, and the report's drift
section marks only v2."""

from __future__ import annotations

import time

import pytest
import requests

from modelwatch.models.registry import Deployment, Registry
from modelwatch.core.prometheus_api import PrometheusApi
from modelwatch.reports.drift import WORST_FEATURES_CHARTED
from modelwatch.reports.report import build as build_report, to_html
from tests.conftest import make_config
from tests.exporter.served import run_exporter
from tests.model_service.served import serve
from tests.own_models import register_all, registered_slots, request_rows
from tests.prometheus_server import query, run_prometheus, wait_for

pytestmark = pytest.mark.integration
PATIENCE = 180  # seconds: the hour's figures integrate one-minute rates and are recomputed every minute


def _by_version(result: list[dict]) -> dict[tuple[str, str, str], float]:
    return {(r["metric"]["model_name"], r["metric"]["model_version"], r["metric"].get("feature", "")):
            float(r["value"][1]) for r in result}


def test_categorical_missing_and_regression_drift_fire_only_for_the_changed_version(state_dir, keys, models, tmp_path):
    config = make_config(state_dir)
    register_all(config, models, ("penguins", "diabetes"), versions=2)
    inputs = {}
    for name in ("penguins", "diabetes"):
        Registry(config.paths.registry_dir, name).set_deployment(Deployment("v1", "v2", 0.0))
        inputs[name] = models[name]["test"].drop(columns=[models[name]["target"]])
    penguins = inputs["penguins"]
    changed_penguins = penguins.assign(island=penguins["island"].replace("Biscoe", "Atlantis"),
                                       sex=[None if i % 2 else s for i, s in enumerate(penguins["sex"])])
    changed_diabetes = inputs["diabetes"] * 3 + 0.2
    traffic = {("penguins", "v1"): penguins, ("penguins", "v2"): changed_penguins,
               ("diabetes", "v1"): inputs["diabetes"], ("diabetes", "v2"): changed_diabetes}

    with serve(state_dir, workers=2) as (service, _), \
            run_exporter(state_dir, ('model_name="diabetes"', 'model_name="penguins"')) as (exporter, _):
        prom_config = make_config(
            state_dir, SERVICE__PORT=service.rsplit(":", 1)[1], EXPORTER__PORT=exporter.rsplit(":", 1)[1],
            PROMETHEUS__SCRAPE_INTERVAL_SECONDS=1, PROMETHEUS__EVALUATION_INTERVAL_SECONDS=1,
        )
        with run_prometheus(prom_config, tmp_path) as prometheus:
            wait_for(prometheus, 'model_input_feature_bucket_total{model_name="penguins", model_version="v2"}',
                     lambda r: len(r) > 0, timeout=PATIENCE)
            wait_for(prometheus, "modelwatch_baseline_prediction_fraction", lambda r: len(r) > 0, timeout=PATIENCE)
            wait_for(prometheus, 'modelwatch_baseline_feature_fraction{model_name="penguins"}', lambda r: len(r) > 0,
                     timeout=PATIENCE)
            # The service and the exporter give each feature's live and reference buckets the same slot,
            # and the drift rules select a shard's series by it (the slot modulo the shards), as scraped.
            slots = {}
            for side in ("model_input_feature_bucket_total", "modelwatch_baseline_feature_fraction"):
                for r in query(prometheus, f'group by (model_name, feature, feature_slot) '
                                           f'({side}{{model_name=~"penguins|diabetes"}})'):
                    slots.setdefault((r["metric"]["model_name"], r["metric"]["feature"]), set()).add(
                        r["metric"]["feature_slot"])
            shard_of = {}
            for name in ("penguins", "diabetes"):  # 6 and 10 features: each in a shard of its own
                features = [feature for model, feature in slots if model == name]
                expected = registered_slots(config.paths.registry_dir, name)
                assert {f: slots[name, f] for f in features} == {f: {slot} for f, slot in expected.items()}
                shard_of.update({(name, f): str(int(slot) % prom_config.prometheus.drift_shards)
                                 for f, slot in expected.items()})
                assert len({shard_of[name, f] for f in features}) == len(features)
            # registered one after the other, the two models' features take different slots, so shards
            assert not ({slot for (model, _), slot in shard_of.items() if model == "penguins"}
                        & {slot for (model, _), slot in shard_of.items() if model == "diabetes"})
            headers = {"X-API-Key": keys["user"]}
            started = time.time()
            for (name, version), frame in traffic.items():
                rows = request_rows(models[name], frame)
                for _ in range(3):  # enough rows for a drift figure (alerts.drift_min_rows)
                    answer = requests.post(f"{service}/api/v1/models/{name}/versions/{version}/predict",
                                           headers=headers, json={"instances": rows}, timeout=30)
                    assert answer.status_code == 200, answer.text

            both = lambda r: len(r) >= 2  # noqa: E731 - v1 and v2
            unseen = _by_version(wait_for(prometheus, "model_version_feature:model_input_feature:unseen_ratio1h"
                                          '{feature="island"}', both, timeout=PATIENCE))
            missing = _by_version(wait_for(prometheus, "model_version_feature:model_input_feature_missing:"
                                           'baseline_increase1h{model_name="penguins", feature="sex"}', both,
                                           timeout=PATIENCE))  # diabetes has a "sex" feature too
            psi_series = wait_for(prometheus, 'model_version_feature:model_input_feature:psi1h{model_name="penguins"}',
                                  lambda r: len(r) == 12, timeout=PATIENCE)
            # each figure written by its feature's shard
            assert all(r["metric"]["shard"] == shard_of["penguins", r["metric"]["feature"]] for r in psi_series)
            psi = _by_version(psi_series)
            js = _by_version(wait_for(prometheus, 'model_version_feature:model_input_feature:js1h{model_name="penguins"}',
                                      lambda r: len(r) == 4, timeout=PATIENCE))  # island and sex, v1 and v2
            predictions = _by_version(wait_for(prometheus, "model_version:model_prediction_bucket:psi1h", both,
                                               timeout=PATIENCE))
            drifted = _by_version(wait_for(prometheus, 'model_version:model_input_feature_drifted:ratio1h'
                                           '{model_name="diabetes"}', both, timeout=PATIENCE))
            pending = wait_for(prometheus, 'ALERTS{alertstate="pending", alertname=~"ModelwatchUnseenCategories|'
                                           'ModelwatchMissingValuesRising|ModelwatchPredictionDrift|'
                                           'ModelwatchManyFeaturesDrifting"}',
                               lambda r: len({a["metric"]["alertname"] for a in r}) == 4, timeout=PATIENCE)
            # (no performance baseline is recorded here: that alert is expected for the stable versions)
            silent = query(prometheus, 'ALERTS{model_version="v1", alertname!="ModelwatchPerformanceBaselineMissing"}')
            out_of_range = _by_version(query(prometheus, "model_version_feature:model_input_feature:out_of_range_ratio1h"
                                                         '{model_version="v1"}'))
            report = build_report(config, PrometheusApi(prometheus), started, time.time())
            html = to_html(report, config)

    alerts = config.alerts
    assert unseen[("penguins", "v1", "island")] == 0 and unseen[("penguins", "v2", "island")] > 0.2
    assert abs(missing[("penguins", "v1", "sex")]) < 0.05 < alerts.missing_share_increase < missing[("penguins", "v2", "sex")]
    assert psi[("penguins", "v2", "island")] > alerts.drift_psi_critical
    assert js[("penguins", "v1", "island")] < alerts.drift_js_warning < alerts.drift_js_critical < js[("penguins", "v2", "island")]
    assert all(psi[("penguins", "v1", f)] < alerts.drift_psi_warning for f in penguins.columns), psi
    assert predictions[("diabetes", "v1", "")] < alerts.drift_psi_warning < alerts.drift_psi_critical < \
        predictions[("diabetes", "v2", "")]
    assert drifted[("diabetes", "v1", "")] < alerts.drift_feature_share <= drifted[("diabetes", "v2", "")]
    assert {(a["metric"]["alertname"], a["metric"]["model_version"]) for a in pending} >= {
        ("ModelwatchUnseenCategories", "v2"), ("ModelwatchMissingValuesRising", "v2"),
        ("ModelwatchPredictionDrift", "v2"), ("ModelwatchManyFeaturesDrifting", "v2")}
    assert not [a for a in pending if a["metric"]["model_version"] == "v1"]
    assert not silent, silent
    # The reference's own values are inside its range, its largest included (edges are not rounded).
    assert out_of_range and max(out_of_range.values()) == 0, out_of_range

    # The report's drift section says the same: which version, which feature, over which threshold.
    rows = {(m.model, m.version): m.worst for m in report.drift}
    assert set(rows) == set(traffic)
    assert rows[("penguins", "v2")]["Jensen-Shannon (categories)"].feature == "island"
    assert rows[("penguins", "v2")]["Jensen-Shannon (categories)"].level == "critical"
    assert rows[("penguins", "v2")]["unseen categories"].level == "warning"
    assert rows[("penguins", "v2")]["missing share over the reference"].feature == "sex"
    assert rows[("diabetes", "v2")]["predicted values (PSI)"].level == "critical"
    assert "KS (numeric inputs)" in rows[("diabetes", "v1")]
    assert not [(title, worst) for key in (("penguins", "v1"), ("diabetes", "v1")) for title, worst in rows[key].items()
                if worst.level], "an unchanged version marked as drifting"
    assert [title for title, _ in report.drift_images] == [
        f"Drift of {name}: PSI of the {WORST_FEATURES_CHARTED} most drifted features" for name in ("diabetes", "penguins")]
    assert report.summary["drifting model versions"] == "diabetes v2, penguins v2"
    assert "<td class='critical'>island" in html and html.count("<tr><td>penguins</td>") == 2
