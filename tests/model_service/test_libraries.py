"""A registered version served with other library versions than it was saved with: reported as a
log line and a metric per library, not refused (its probe rows' recorded answers still guard it)."""

from __future__ import annotations

import json
import logging

from prometheus_client import CollectorRegistry

from modelwatch.model_service.app import create_app
from modelwatch.model_service.libraries import Mismatch, mismatches, running
from modelwatch.models.registry import METADATA_FILE, Registry
from tests.own_models import register_all


def test_only_differing_versions_are_mismatches_and_python_by_its_minor_release():
    here = {"python": "3.11.2", "scikit-learn": "1.5.0", "numpy": "2.0.1"}
    assert mismatches({"python": "3.11.9", "scikit-learn": "1.5.0"}, here) == []
    assert mismatches({"python": "3.12.1", "scikit-learn": "1.4.2", "lightgbm": "4.5.0"}, here) == [
        Mismatch("lightgbm", "4.5.0", ""), Mismatch("python", "3.12.1", "3.11.2"),
        Mismatch("scikit-learn", "1.4.2", "1.5.0")]
    assert running()["scikit-learn"]  # what registration records


def test_a_version_saved_with_another_scikit_learn_loads_and_says_so(config, keys, models, caplog):
    register_all(config, models, ("wine",))
    metadata_file = Registry(config.paths.registry_dir, "wine").version_dir("v1") / METADATA_FILE
    metadata = json.loads(metadata_file.read_text())
    metadata["libraries"]["scikit-learn"] = "0.24.2"
    metadata_file.write_text(json.dumps(metadata))
    Registry(config.paths.registry_dir, "wine").sign(metadata_file.parent)  # as registered there
    metrics = CollectorRegistry()
    with caplog.at_level(logging.WARNING):
        app = create_app(config, registry=metrics, watch=False)
    served = app.test_client().post("/api/v1/models/wine/predict", headers={"X-API-Key": keys["user"]},
                                    json={"instances": [dict.fromkeys(_features(app), 1.0)]})
    assert served.status_code == 200, served.json  # still served
    assert metrics.get_sample_value("model_library_version_mismatch", {
        "model_name": "wine", "model_version": "v1", "library": "scikit-learn", "registered": "0.24.2",
        "running": running()["scikit-learn"]}) == 1
    assert "wine v1 was registered with scikit-learn 0.24.2" in caplog.text


def _features(app) -> list[str]:
    server = app.extensions["modelwatch"]["servers"]["wine"]
    return next(iter(server.state.models.values())).schema.feature_names
