"""modelwatch load for real: Locust against the real service, a real Prometheus
scraping it; the SLO gate judges from Prometheus and decides the exit status,
and the reports are written."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
import requests

from modelwatch.cli import main
from modelwatch.core.prometheus_api import PrometheusApi
from modelwatch.core.queries import scaling_metric
from tests.conftest import make_config
from tests.model_service.served import free_port, serve
from tests.prometheus_server import run_prometheus, wait_for

pytestmark = pytest.mark.integration


@contextmanager
def served_and_scraped(state_dir, tmp_path, **settings):
    """(service URL, Prometheus URL): the real service, scraped every second by a real Prometheus."""
    with serve(state_dir, workers=1, **settings) as (base, _):
        config = make_config(state_dir, SERVICE__PORT=base.rsplit(":", 1)[1], PROMETHEUS__SCRAPE_INTERVAL_SECONDS=1,
                             PROMETHEUS__EVALUATION_INTERVAL_SECONDS=1)
        (tmp_path / "prometheus").mkdir()
        with run_prometheus(config, tmp_path / "prometheus") as prometheus:
            wait_for(prometheus, 'up{job="model-service"} == 1', lambda r: len(r) == 1)
            yield base, prometheus


def latency_not_judged(monkeypatch) -> None:
    """For runs whose subject is not latency: ~70 requests on two shared cores, where one
    request slowed past 250 ms by a neighbour is 1.4 % and would break the 99 % target
    (CI, stop 33). Errors still break the gate."""
    monkeypatch.setenv("MODELWATCH_SLO__LATENCY_TARGET", "0.9")


def test_a_run_within_the_slo_passes_judged_by_prometheus(state_dir, keys, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(state_dir))
    monkeypatch.setenv("MODELWATCH_PROMETHEUS__SCRAPE_INTERVAL_SECONDS", "1")
    out = tmp_path / "run"
    with served_and_scraped(state_dir, tmp_path) as (base, prometheus):
        code = main(["load", "steady", "--users", "5", "--duration", "6", "--url", base, "--out", str(out),
                     "--prometheus-url", prometheus])
    printed = capsys.readouterr().out
    failures = (out / "locust_failures.csv").read_text() if (out / "locust_failures.csv").exists() else ""
    assert code == 0, printed + failures  # which requests failed, and why
    assert "SLO met" in printed and "server-side availability 100.000%" in printed
    gate = json.loads((out / "slo-gate.json").read_text())
    assert gate["passed"] and gate["requests"] > 20 and gate["failures"] == 0
    # Prometheus counted the run's API requests (the invalid ones too: they are API requests answered 4xx).
    assert gate["server"]["requests"] >= 0.8 * gate["requests"], gate
    assert gate["server"]["availability"] == 1.0 and gate["server"]["within_latency"] > 0.99
    stats = (out / "locust_stats.csv").read_text()
    # The invalid requests were sent, answered with a 4xx and counted as expected, not as failures.
    assert "invalid [" in stats and "/api/v1/classify [GET]" in stats and "/api/v1/predict" in stats
    assert (out / "report.html").stat().st_size > 10_000


def test_a_grpc_run_within_the_slo_passes_judged_by_prometheus(state_dir, keys, tmp_path, capsys, monkeypatch):
    """--protocol grpc: ModelInfer calls from Locust's gRPC users, judged from rpc_server_duration_milliseconds."""
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(state_dir))
    monkeypatch.setenv("MODELWATCH_PROMETHEUS__SCRAPE_INTERVAL_SECONDS", "1")
    out, grpc_port = tmp_path / "run", free_port()
    with served_and_scraped(state_dir, tmp_path, grpc_port=grpc_port) as (base, prometheus):
        code = main(["load", "steady", "--protocol", "grpc", "--users", "5", "--duration", "6",
                     "--url", f"127.0.0.1:{grpc_port}", "--out", str(out), "--prometheus-url", prometheus])
        predicted = sum(float(line.split()[-1]) for line in requests.get(f"{base}/metrics", timeout=10).text.splitlines()
                        if line.startswith("model_predictions_total{") and 'outcome="success"' in line)
        # the autoscaler's requests metric follows gRPC calls as well (no HTTP API traffic here)
        scaling = PrometheusApi(prometheus).query(scaling_metric(make_config(state_dir)).query)
    printed = capsys.readouterr().out
    failures = (out / "locust_failures.csv").read_text() if (out / "locust_failures.csv").exists() else ""
    assert code == 0, printed + failures
    gate = json.loads((out / "slo-gate.json").read_text())
    assert gate["passed"] and gate["requests"] > 20 and gate["failures"] == 0
    assert gate["server"]["requests"] >= 0.8 * gate["requests"], gate  # the calls, as Prometheus counted them
    assert gate["server"]["availability"] == 1.0 and gate["server"]["within_latency"] > 0.99
    assert predicted >= gate["requests"] * 0.8  # rows predicted over gRPC count in the model metrics
    assert scaling and scaling[0].value > 0.5, scaling
    stats = (out / "locust_stats.csv").read_text()
    assert "ModelInfer iris" in stats and "invalid [unknown_input]" in stats


def test_a_grpc_run_needs_a_grpc_port_or_an_address(state_dir, keys, monkeypatch, capsys):
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(state_dir))
    monkeypatch.setenv("MODELWATCH_SERVICE__GRPC_PORT", "0")
    assert main(["load", "steady", "--protocol", "grpc", "--duration", "1"]) != 0
    assert "service.grpc_port is 0 (gRPC off)" in capsys.readouterr().err


def test_a_run_prometheus_cannot_judge_fails_and_says_why(state_dir, keys, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(state_dir))
    nowhere = f"http://127.0.0.1:{free_port()}"
    with serve(state_dir, workers=1) as (base, _):
        code = main(["load", "steady", "--users", "2", "--duration", "3", "--url", base, "--out", str(tmp_path),
                     "--prometheus-url", nowhere])
    assert code == 1
    assert f"SLO broken: SLO not judged: Prometheus at {nowhere} did not answer" in capsys.readouterr().out


def test_a_run_that_breaks_the_slo_exits_1_and_says_why(state_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(state_dir))
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: every request fails
    code = main(["load", "steady", "--users", "2", "--duration", "3", "--url", nowhere, "--key", "x",
                 "--out", str(tmp_path), "--prometheus-url", nowhere])
    assert code == 1
    assert "SLO broken: error ratio 100.000% above 0.100% (client-side)" in capsys.readouterr().out


@pytest.mark.parametrize("scenario", ["steady", "drift"])
def test_a_registered_model_is_loaded_with_rows_of_its_reference(state_dir, keys, models, tmp_path, capsys, monkeypatch,
                                                                  scenario):
    from modelwatch.model_service.registration import Request, register
    from tests.own_models import trusted_types

    item = models["penguins"]
    latency_not_judged(monkeypatch)
    register(make_config(state_dir), Request("penguins", item["artifact"], item["reference"], "species",
                                             trusted_types=trusted_types(item)))
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(state_dir))
    out = tmp_path / "run"
    with served_and_scraped(state_dir, tmp_path) as (base, prometheus):
        # 10 s: ~70 requests, so the invalid task (1 in 10) is missed once in ~1,500 runs (5 s missed it in CI)
        code = main(["load", scenario, "--model", "penguins", "--users", "4", "--duration", "10", "--url", base,
                     "--out", str(out), "--prometheus-url", prometheus])
        counted = wait_for(prometheus, 'sum by (bucket) (model_input_feature_bucket_total{model_name="penguins", '
                                       'feature="island"})', lambda r: len(r) > 0)
    printed = capsys.readouterr().out
    failures = (out / "locust_failures.csv").read_text() if (out / "locust_failures.csv").exists() else ""
    assert code == 0, printed + failures
    stats = (out / "locust_stats.csv").read_text()
    assert "/api/v1/models/penguins/predict" in stats and "invalid [unknown_field]" in stats
    islands = {r["metric"]["bucket"]: float(r["value"][1]) for r in counted}
    assert sum(islands.values()) > 10 and islands.get("(unseen)", 0) == 0  # known islands, swapped or not


def test_an_unknown_model_is_a_one_line_error(state_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(state_dir))
    assert main(["load", "steady", "--model", "nope", "--key", "x", "--out", str(tmp_path)]) == 1
    assert "no registered model 'nope'" in capsys.readouterr().err


def _live_accuracy(prometheus: str) -> float:
    counted = wait_for(prometheus, 'sum(model_correct_predictions_total{model_name="iris"}) / '
                                   'sum(model_confusion_total{model_name="iris"}) and '
                                   'sum(model_confusion_total{model_name="iris"}) > 20', lambda r: len(r) == 1)
    return float(counted[0]["value"][1])


@pytest.mark.parametrize("concept_drift", [0.0, 1.0])
def test_the_labels_scenario_sends_true_labels_later_and_its_switch_flips_them(state_dir, keys, tmp_path, capsys,
                                                                               monkeypatch, concept_drift):
    from modelwatch.models.baselines import parse_reference_quality
    from modelwatch.models.registry import Registry

    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(state_dir))
    latency_not_judged(monkeypatch)
    out = tmp_path / "run"
    with served_and_scraped(state_dir, tmp_path) as (base, prometheus):
        code = main(["load", "labels", "--users", "3", "--duration", "8", "--url", base, "--out", str(out),
                     "--label-delay", "1s", "--label-share", "0.8", "--concept-drift", str(concept_drift),
                     "--prometheus-url", prometheus])
        accuracy = _live_accuracy(prometheus)
    printed = capsys.readouterr().out
    failures = (out / "locust_failures.csv").read_text() if (out / "locust_failures.csv").exists() else ""
    assert code == 0, printed + failures  # every label sent was accepted
    assert "/api/v1/models/iris/feedback" in (out / "locust_stats.csv").read_text()
    registry = Registry(make_config(state_dir).paths.registry_dir, "iris")
    reference = parse_reference_quality((registry.version_dir("v1") / "metadata.json").read_text())["accuracy"]
    if concept_drift:  # every label another class: right only where the model was wrong
        assert accuracy <= 1 - reference + 0.1
    else:  # the reference rows with their own targets: the reference accuracy, within sampling
        assert accuracy == pytest.approx(reference, abs=0.1)


def test_the_labels_scenario_waits_out_a_429_and_sends_the_same_labels_again(state_dir, keys, tmp_path, capsys,
                                                                            monkeypatch):
    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(state_dir))
    monkeypatch.setenv("MODELWATCH_FEEDBACK__MAX_LABELS_PER_SECOND", "3")  # far below the ~20 a second it sends
    latency_not_judged(monkeypatch)
    out = tmp_path / "run"
    with served_and_scraped(state_dir, tmp_path) as (base, prometheus):
        code = main(["load", "labels", "--users", "3", "--duration", "8", "--url", base, "--out", str(out),
                     "--label-delay", "1s", "--label-share", "0.8", "--prometheus-url", prometheus])
        counted = wait_for(prometheus, 'sum by (outcome) (model_feedback_total{model_name="iris"}) or '
                                       'label_replace(model_feedback_throttled_requests_total, "outcome", '
                                       '"throttled", "", "")',
                           lambda r: {"accepted", "throttled"} <= {s["metric"]["outcome"] for s in r})
    failures = (out / "locust_failures.csv").read_text() if (out / "locust_failures.csv").exists() else ""
    assert code == 0, capsys.readouterr().out + failures  # a 429 is the service pacing the job, not a failure
    outcomes = {s["metric"]["outcome"]: float(s["value"][1]) for s in counted}
    assert outcomes["accepted"] > 0 and outcomes["throttled"] > 0
    assert outcomes.get("duplicate", 0) == 0, outcomes  # a refused request was taken by none: sent again, counted once


def test_the_labels_scenario_needs_targets_in_the_reference_sample(state_dir, keys, tmp_path, capsys, monkeypatch):
    from modelwatch.models.registry import REFERENCE_SAMPLE_FILE, Registry

    monkeypatch.setenv("MODELWATCH_PATHS__STATE_DIR", str(state_dir))
    sample = Registry(make_config(state_dir).paths.registry_dir, "iris").version_dir("v1") / REFERENCE_SAMPLE_FILE
    document = json.loads(sample.read_text())
    del document["targets"]  # as registered before samples kept them, or without --target
    sample.write_text(json.dumps(document))
    assert main(["load", "labels", "--key", "x", "--out", str(tmp_path)]) == 1
    assert "iris's reference sample has no targets to send as labels" in capsys.readouterr().err
    assert main(["load", "labels", "--key", "x", "--out", str(tmp_path), "--label-share", "2"]) == 1
    assert "--label-share must be over 0 and at most 1, not 2" in capsys.readouterr().err
