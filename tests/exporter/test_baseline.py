"""The baseline collector against a trained registry and the service's own series."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from modelwatch.core.series import FEATURE_SLOT, feature_slots
from modelwatch.exporter.collectors.baseline import BaselineCollector
from modelwatch.models.baselines import BaselineError, parse_data_baseline
from modelwatch.models.registry import Deployment, Registry


@pytest.fixture
def registry(config):
    collector_registry = CollectorRegistry()
    collector_registry.register(BaselineCollector(config.paths.registry_dir, (config.model.name,)))
    return collector_registry


def baseline_file(config, version="v1"):
    return config.paths.registry_dir / "iris" / version / "data-baseline.json"


def test_publishes_the_data_baseline(config, registry):
    baseline = json.loads(baseline_file(config).read_text())
    model = {"model_name": "iris", "model_version": "v1"}
    slots = feature_slots("iris", baseline["features"], baseline["feature_slot_offset"])
    for feature, spec in baseline["features"].items():
        of_feature = {**model, "feature": feature, FEATURE_SLOT: slots[feature]}
        for bucket, share in zip(spec["buckets"], spec["reference_fractions"]):
            assert registry.get_sample_value("modelwatch_baseline_feature_fraction",
                                             {**of_feature, "bucket": bucket}) == share
        last = spec["buckets"][-1]
        assert registry.get_sample_value("modelwatch_baseline_feature_cumulative_fraction",
                                         {**of_feature, "bucket": last}) == pytest.approx(1.0, abs=1e-5)
        assert registry.get_sample_value("modelwatch_baseline_feature_bucket_upper_bound",
                                         {**of_feature, "bucket": last}) == float("inf")
    for label, share in baseline["class_mix"].items():
        assert registry.get_sample_value("modelwatch_baseline_class_fraction", {**model, "class": label}) == share
    assert registry.get_sample_value("modelwatch_baseline_rows", model) == baseline["rows"]


def test_labels_match_the_services_feature_counters(config, registry, client, keys):
    from modelwatch.model_service.metric_buffer import flush_all

    client.get("/api/v1/classify?sl=5.1&sw=3.5&pl=1.4&pw=0.3", headers={"X-API-Key": keys["user"]})
    flush_all()
    service = client.application.extensions["test_registry"]

    def label_sets(reg, name):
        return {tuple(sorted(s.labels.items())) for f in reg.collect() for s in f.samples if s.name == name}

    assert label_sets(service, "model_input_feature_bucket_total") == label_sets(
        registry, "modelwatch_baseline_feature_fraction")
    assert label_sets(service, "model_predicted_class_total") == label_sets(registry, "modelwatch_baseline_class_fraction")


def test_follows_the_deployment(config, registry):
    Registry(config.paths.registry_dir, "iris").set_deployment(Deployment("v1", "v2", 0.1))
    assert registry.get_sample_value("modelwatch_baseline_rows", {"model_name": "iris", "model_version": "v2"}) == 75


def test_malformed_file_rejected_last_good_kept_then_reloaded(config, registry):
    path = baseline_file(config)
    good = path.read_text()
    labels = {"model_name": "iris", "model_version": "v1"}
    assert registry.get_sample_value("modelwatch_baseline_rows", labels) == 75
    path.write_text("{not json")
    assert registry.get_sample_value("modelwatch_baseline_rows", labels) == 75  # last good one
    assert registry.get_sample_value("modelwatch_baseline_load_failures_total",
                                     {**labels, "file": "data", "reason": "unreadable"}) == 1
    document = json.loads(good)
    document["rows"] = 99
    path.write_text(json.dumps(document))
    assert registry.get_sample_value("modelwatch_baseline_rows", labels) == 99  # changed file re-read


@pytest.mark.parametrize("mutate,fragment", [
    (lambda d: d.pop("class_mix"), "needs class_mix (a classifier's) or prediction (a regressor's)"),
    (lambda d: d["features"]["sl"].update(buckets=["a", "b"]), "buckets must be 00"),
    (lambda d: d["features"]["sl"]["reference_fractions"].__setitem__(1, 0.9), "fractions must sum to 1"),
    (lambda d: d["features"]["sl"]["edges"].reverse(), "edges must ascend"),
    (lambda d: d.update(rows="many"), "rows"),
])
def test_invalid_documents_say_what_is_wrong(config, mutate, fragment):
    document = json.loads(baseline_file(config).read_text())
    mutate(document)
    with pytest.raises(BaselineError) as caught:
        parse_data_baseline(json.dumps(document))
    assert caught.value.reason == "invalid" and fragment in str(caught.value)


PERFORMANCE = {"recorded": "2026-11-26T00:00:00+00:00", "window_seconds": 300,
               "latency_seconds": {"0.5": 0.002, "0.95": 0.006, "0.99": 0.011},
               "requests_per_second_per_replica": 1800.0, "cpu_seconds_per_request": 0.00026,
               "memory_bytes_per_replica": 9.1e7, "error_ratio": 0.0005}


def test_performance_baseline_absent_until_recorded_then_published(config, registry):
    labels = {"model_name": "iris", "model_version": "v1"}
    assert registry.get_sample_value("modelwatch_baseline_error_ratio", labels) is None  # not recorded: silent
    assert registry.get_sample_value("modelwatch_baseline_load_failures_total",
                                     {**labels, "file": "performance", "reason": "missing"}) is None
    path = config.paths.registry_dir / "iris" / "v1" / "performance-baseline.json"
    path.write_text(json.dumps(PERFORMANCE))
    assert registry.get_sample_value("modelwatch_baseline_latency_seconds", {**labels, "latency_quantile": "0.95"}) == 0.006
    assert registry.get_sample_value("modelwatch_baseline_requests_per_second_per_replica", labels) == 1800
    assert registry.get_sample_value("modelwatch_baseline_cpu_seconds_per_request", labels) == 0.00026
    assert registry.get_sample_value("modelwatch_baseline_memory_bytes_per_replica", labels) == 9.1e7
    assert registry.get_sample_value("modelwatch_baseline_error_ratio", labels) == 0.0005
    broken = dict(PERFORMANCE, error_ratio=3)
    path.write_text(json.dumps(broken))
    assert registry.get_sample_value("modelwatch_baseline_error_ratio", labels) == 0.0005  # last good one
    assert registry.get_sample_value("modelwatch_baseline_load_failures_total",
                                     {**labels, "file": "performance", "reason": "invalid"}) == 1


def test_every_registered_model_is_published_with_categorical_missing_and_regression_baselines(models, tmp_path):
    from modelwatch.model_service.registration import Request, register
    from tests.conftest import make_config
    from tests.own_models import registered_slots, trusted_types

    config = make_config(tmp_path)
    for name in ("penguins", "diabetes"):
        item = models[name]
        register(config, Request(name, item["artifact"], item["reference"], item["target"],
                                 trusted_types=trusted_types(item)))
    collector_registry = CollectorRegistry()
    collector_registry.register(BaselineCollector(config.paths.registry_dir))  # no name: every model
    slots = {s.labels["feature"]: s.labels[FEATURE_SLOT] for family in collector_registry.collect()
             for s in family.samples if s.name == "modelwatch_baseline_feature_missing_fraction"
             and s.labels["model_name"] == "penguins"}
    assert len(slots) == 6 and slots == registered_slots(config.paths.registry_dir, "penguins")  # six slots in turn
    diabetes = registered_slots(config.paths.registry_dir, "diabetes")  # registered next: the ten slots after
    assert sorted(map(int, diabetes.values())) == [max(map(int, slots.values())) + 1 + i for i in range(10)]
    penguins = {"model_name": "penguins", "model_version": "v1"}
    island = [collector_registry.get_sample_value("modelwatch_baseline_feature_fraction",
                                                  {**penguins, "feature": "island", FEATURE_SLOT: slots["island"],
                                                   "bucket": bucket})
              for bucket in ("Biscoe", "Dream", "Torgersen", "(other)", "(unseen)", "(missing)")]
    assert sum(island) == pytest.approx(1.0, abs=1e-5) and island[4] == 0
    assert collector_registry.get_sample_value("modelwatch_baseline_feature_cumulative_fraction",
                                               {**penguins, "feature": "island", FEATURE_SLOT: slots["island"],
                                                "bucket": "Dream"}) is None
    diabetes = {"model_name": "diabetes", "model_version": "v1"}
    assert collector_registry.get_sample_value("modelwatch_baseline_class_fraction", {**diabetes, "class": "0"}) is None
    top = collector_registry.get_sample_value("modelwatch_baseline_prediction_cumulative_fraction", {**diabetes, "bucket": "11"})
    assert top == pytest.approx(1.0, abs=1e-5)
    assert collector_registry.get_sample_value("modelwatch_baseline_rows", diabetes) > 100


def test_the_reference_range_holds_the_references_own_extremes():
    import numpy as np

    from modelwatch.models.baselines import bucket_indexes, numeric_baseline

    values = np.array([-0.04464163650698914, 0.05068011873981862] * 50)  # a binary, standardised column
    spec = numeric_baseline(values, 10)
    indexes = bucket_indexes(spec["edges"], values)
    assert indexes.min() > 0 and indexes.max() < len(spec["buckets"]) - 1  # none below or above the range


def test_publishes_the_reference_quality_live_quality_is_compared_with(models, tmp_path):
    from tests.conftest import make_config
    from tests.own_models import register_all

    config = make_config(tmp_path)
    register_all(config, models, ("penguins", "diabetes"))
    collector_registry = CollectorRegistry()
    collector_registry.register(BaselineCollector(config.paths.registry_dir))
    penguins = {"model_name": "penguins", "model_version": "v1"}
    quality = json.loads((config.paths.registry_dir / "penguins" / "v1" / "metadata.json").read_text())["quality"][
        "reference"]
    assert collector_registry.get_sample_value("modelwatch_baseline_quality",
                                               {**penguins, "metric": "accuracy"}) == quality["accuracy"]
    for label, score in quality["f1"].items():
        assert collector_registry.get_sample_value("modelwatch_baseline_class_f1", {**penguins, "class": label}) == score
    assert collector_registry.get_sample_value("modelwatch_baseline_quality_rows", penguins) == quality["rows"]
    diabetes = {"model_name": "diabetes", "model_version": "v1"}
    assert collector_registry.get_sample_value("modelwatch_baseline_quality", {**diabetes, "metric": "rmse"}) > 0
    assert collector_registry.get_sample_value("modelwatch_baseline_quality", {**diabetes, "metric": "accuracy"}) is None


def test_a_version_registered_without_a_target_has_no_reference_quality(config, registry):
    metadata = config.paths.registry_dir / "iris" / "v1" / "metadata.json"
    document = json.loads(metadata.read_text())
    document.pop("quality", None)
    metadata.write_text(json.dumps(document))
    assert registry.get_sample_value("modelwatch_baseline_quality",
                                     {"model_name": "iris", "model_version": "v1", "metric": "accuracy"}) is None
    assert registry.get_sample_value("modelwatch_baseline_rows", {"model_name": "iris", "model_version": "v1"}) == 75


def test_an_invalid_reference_quality_is_rejected_and_counted(config, registry):
    metadata = config.paths.registry_dir / "iris" / "v1" / "metadata.json"
    document = json.loads(metadata.read_text())
    document["quality"] = {"reference": {"accuracy": 7}}
    metadata.write_text(json.dumps(document))
    model = {"model_name": "iris", "model_version": "v1"}
    assert registry.get_sample_value("modelwatch_baseline_quality", {**model, "metric": "accuracy"}) is None
    assert registry.get_sample_value("modelwatch_baseline_load_failures_total",
                                     {**model, "file": "quality", "reason": "invalid"}) >= 1
    assert registry.get_sample_value("modelwatch_baseline_rows", model) == 75  # the data baseline is unaffected
