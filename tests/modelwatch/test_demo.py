"""The shortened demo, end to end, as CI runs it: a step load against the real
local stack (gunicorn, exporter, Prometheus, Alertmanager, autoscaler, Locust).
The autoscaler must scale up soon after the step, the new workers must serve,
it must scale back down after the load falls, no request may fail, the labels
sent meanwhile must all be joined to their predictions, the alerts must stay
silent, and the report must render in headless Chromium."""

from __future__ import annotations

import re
import shutil

import matplotlib.image
import pytest

from modelwatch.reports.demo import DemoPlan, run_demo
from tests.chromium import dump_dom, screenshot
from tests.conftest import make_config, require_binary
from tests.modelwatch.test_stack import stack_env

pytestmark = pytest.mark.integration
SCALE_UP_BOUND_SECONDS = 60  # metric window 30 s + scrape 5 s + sync 5 s + worker boot, with margin


@pytest.fixture(scope="module")
def demo(trained_state, tmp_path_factory):
    for binary in ("prometheus", "prometheus-alertmanager"):
        require_binary(binary)
    state = tmp_path_factory.mktemp("demo") / "state"
    shutil.copytree(trained_state, state)
    env = stack_env(state)
    config = make_config(state, **{k[len("MODELWATCH_"):]: v for k, v in env.items() if "STATE_DIR" not in k})
    plan = DemoPlan(steady_seconds=30, step_seconds=120, settle_seconds=75, peak_users=60)
    return run_demo(config, plan)


def test_the_autoscaler_follows_the_step_up_and_back_down(demo):
    most = max(replicas for _, replicas in demo.timeline.points)
    assert most >= 2, demo.timeline.points
    assert demo.timings["step_to_new_replicas"] is not None
    assert demo.timings["step_to_new_replicas"] <= SCALE_UP_BOUND_SECONDS, demo.timings
    assert demo.timings["step_to_scale_up_decision"] <= demo.timings["step_to_new_replicas"] + 1
    assert demo.timings["load_fall_to_scale_down"] is not None, demo.timeline.points[-10:]


def test_new_replicas_served_requests(demo):
    assert demo.new_workers_cpu, "no worker was added after the step"
    # Every new worker did work after booting, and one served in earnest; a worker added late in the
    # step on a busy machine may get only the last requests before the load falls.
    assert all(seconds > 0 for seconds in demo.new_workers_cpu.values()), demo.new_workers_cpu
    assert max(demo.new_workers_cpu.values()) > 0.1, demo.new_workers_cpu


def test_no_request_failed_across_the_scale_events(demo):
    assert demo.load["failures"] == 0 and demo.load["requests"] > 1000, demo.load
    assert demo.server_errors == 0
    assert demo.load["passed"], demo.load["breaches"]


def test_labels_sent_during_the_step_were_joined_and_score_like_the_reference(demo):
    assert demo.labelling["failures"] == 0 and demo.labelling["requests"] > 100, demo.labelling
    iris = [q for q in demo.quality if q.model == "iris"]
    assert len(iris) == 1 and iris[0].labels > 100 and iris[0].refused == 0
    # the reference rows with their own targets: the reference accuracy, within sampling
    assert iris[0].live["accuracy"] == pytest.approx(iris[0].reference["accuracy"], abs=0.1)


def test_the_expected_alerts_stayed_silent(demo):
    loud = [a for a in demo.alerts_fired if a["severity"] in ("critical", "warning")]
    assert not loud, loud


def test_the_baseline_was_recorded_from_the_steady_part(demo):
    assert demo.baseline["requests"] >= 100
    assert 0 < demo.baseline["latency_seconds"]["0.95"] < 0.25
    assert (demo.report.parent.parent.parent / "models" / "iris" / "v1" / "performance-baseline.json").exists()


def test_the_report_renders_in_headless_chromium(demo, tmp_path):
    url = demo.report.resolve().as_uri()
    dom = dump_dom(url, tmp_path / "profile", budget_ms=5000)
    assert 'data-images="loaded"' in dom  # every chart decoded with a real size
    # five charts, the Iris model's drift and its live quality
    assert dom.count("<img") == 7 and "modelwatch demo" in dom
    assert re.search(r"<td>iris</td><td>v1</td><td>\d+</td>", dom), "no drift row for the demo's model"
    shot = screenshot(url, tmp_path / "profile", tmp_path / "report.png")
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.std() > 0.05  # not a blank page: charts, lines, text
