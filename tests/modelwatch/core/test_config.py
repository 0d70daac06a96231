import dataclasses
from pathlib import Path

import pytest
import yaml

from modelwatch.core.config import Config, load_config
from modelwatch.core.errors import ConfigError


def test_defaults_bind_to_loopback():
    config = load_config(env={})
    assert config.service.host == "127.0.0.1"
    assert config.paths.registry_dir == Path("var/models")


def test_file_then_environment_override(tmp_path):
    path = tmp_path / "modelwatch.yaml"
    path.write_text("service:\n  port: 9000\n  workers: 3\nmodel:\n  name: flowers\n")
    config = load_config(path, env={"MODELWATCH_SERVICE__PORT": "9100", "MODELWATCH_SERVICE__INSTRUMENTATION": "off"})
    assert config.service.port == 9100  # the environment wins over the file
    assert config.service.workers == 3
    assert config.service.instrumentation is False
    assert config.model.name == "flowers"


def test_config_file_from_environment(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("service: {threads: 9}\n")
    assert load_config(env={"MODELWATCH_CONFIG": str(path)}).service.threads == 9


def test_the_keys_file_is_in_the_state_folder_unless_placed_elsewhere(tmp_path):
    assert load_config(env={"MODELWATCH_PATHS__STATE_DIR": str(tmp_path)}).paths.keys_file == tmp_path / "keys.json"
    mounted = "/var/lib/modelwatch/secrets/api-keys/keys.json"
    config = load_config(env={"MODELWATCH_PATHS__STATE_DIR": str(tmp_path), "MODELWATCH_PATHS__KEYS_PATH": mounted})
    assert config.paths.keys_file == Path(mounted) and config.paths.registry_dir == tmp_path / "models"


def test_timeouts_must_be_positive():
    with pytest.raises(ConfigError, match="exporter.kubernetes_request_timeout_seconds: must be above 0"):
        load_config(env={"MODELWATCH_EXPORTER__KUBERNETES_REQUEST_TIMEOUT_SECONDS": "0"})


def test_every_problem_reported_in_one_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("service:\n  port: eighty\n  colour: blue\nextras: {}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={"MODELWATCH_SERVICE__PREDICTOR": "magic"})
    message = str(caught.value)
    assert "\n" not in message
    for part in ("service.port: expected an integer", "service.colour: unknown setting", "extras: unknown section",
                 "service.predictor: must be fast, onnx or native"):
        assert part in message


def test_unreadable_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yaml", env={})
    bad = tmp_path / "bad.yaml"
    bad.write_text("service: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad, env={})


def test_booleans_are_strict():
    with pytest.raises(ConfigError, match="expected true or false"):
        load_config(env={"MODELWATCH_SERVICE__INSTRUMENTATION": "maybe"})


def test_example_file_lists_every_setting_at_its_default():
    example = Path(__file__).resolve().parents[3] / "modelwatch.example.yaml"
    assert load_config(example, env={}) == Config()
    listed = yaml.safe_load(example.read_text())
    for section in dataclasses.fields(Config):
        fields = {f.name for f in dataclasses.fields(section.default_factory())}
        assert set(listed[section.name]) == fields, f"{section.name}: example file and config differ"


def test_slo_and_alert_thresholds_are_checked():
    with pytest.raises(ConfigError) as error:
        load_config(env={
            "MODELWATCH_SLO__LATENCY_THRESHOLD_SECONDS": "0.3",
            "MODELWATCH_SLO__AVAILABILITY_TARGET": "99.9",
            "MODELWATCH_ALERTS__DRIFT_PSI_CRITICAL": "0.05",
            "MODELWATCH_SLO__ROUTE_REGEX": "(",
            "MODELWATCH_PROMETHEUS__DRIFT_SHARDS": "0",
            "MODELWATCH_PROMETHEUS__DRIFT_EVERY_EVALUATIONS": "0",
        })
    message = str(error.value)
    assert "slo.latency_threshold_seconds: must be a latency bucket bound, one of 0.001, 0.0025" in message
    assert "slo.availability_target: must be between 0 and 1" in message
    assert "alerts.drift_psi_critical: must not be below drift_psi_warning" in message
    assert "slo.route_regex: not a regular expression" in message
    assert "prometheus.drift_shards: must be between 1 and 64" in message
    assert "prometheus.drift_every_evaluations: must be between 1 and 20" in message
    assert "\n" not in message
    assert load_config(env={"MODELWATCH_SLO__LATENCY_THRESHOLD_SECONDS": "0.1"}).slo.latency_threshold_seconds == 0.1


def test_the_configuration_written_out_reads_back_unchanged(tmp_path):
    from modelwatch.core.config import config_to_yaml

    config = load_config(env={"MODELWATCH_AUTOSCALER__MAX_REPLICAS": "7", "MODELWATCH_PATHS__STATE_DIR": str(tmp_path)})
    path = tmp_path / "written.yaml"
    path.write_text(config_to_yaml(config))
    assert load_config(path, env={}) == config


def test_each_choice_the_configuration_accepts_has_its_table_entry():
    from modelwatch.autoscaler.backends import BACKENDS
    from modelwatch.core.config import AUTOSCALER_BACKENDS, PREDICTOR_KINDS, SCALING_METRIC_NAMES
    from modelwatch.core.queries import SCALING_METRICS
    from modelwatch.model_service.predictors import PREDICTORS

    assert set(PREDICTORS) == set(PREDICTOR_KINDS)
    assert set(BACKENDS) == set(AUTOSCALER_BACKENDS)
    assert set(SCALING_METRICS) == set(SCALING_METRIC_NAMES)
