# The README's commands. Every target sets up first (idempotent).
VENV := .venv/bin
PORT ?= 8000

.PHONY: setup generate demo run test bench-service bench-own-model bench-exporter bench-rules bench-stack bench-soak bench-quality-alerts bench-feedback-flood bench-oip clean

setup:
	@scripts/setup.sh

# Every committed generated file (rules, dashboards, Kubernetes and compose parts), for the default configuration.
generate: setup
	$(VENV)/modelwatch generate --defaults

# The whole loop in about five minutes: local stack, baseline, step load, autoscaling, report.
demo: setup
	$(VENV)/modelwatch demo

# Train the Iris model (first time only), make a demo API key, serve with metrics.
run: setup
	@$(VENV)/modelwatch train --if-missing
	@$(VENV)/modelwatch keys ensure demo
	$(VENV)/modelwatch serve --port $(PORT)

# The whole suite against Debian bookworm's Prometheus 2.42 and Alertmanager 0.25, then every test
# that runs Prometheus, promtool or Alertmanager again against the current line (3.5 and 0.33).
PROMETHEUS_TESTS := tests/test_prometheus_line.py tests/rules tests/dashboards/test_live_queries.py tests/modelwatch/test_stack.py
test: setup
	$(VENV)/pytest -q -rs --durations=25
	scripts/current-prometheus.sh
	PATH=$(CURDIR)/tools/prometheus-current/bin:$$PATH MODELWATCH_TEST_PROMETHEUS_LINE=3.5/0.33 \
	  $(VENV)/pytest -q -rs -p no:cacheprovider $(PROMETHEUS_TESTS)

bench-service: setup
	$(VENV)/python -m bench.service

bench-own-model: setup
	$(VENV)/python -m bench.own_model

bench-exporter: setup
	$(VENV)/python -m bench.exporter

bench-stack: setup
	$(VENV)/python -m bench.stack

bench-rules: setup
	$(VENV)/python -m bench.rules
	$(VENV)/python -m bench.rules --registered-models 5 --features 30 --out bench/results/rules-own-models.json

# 30 minutes of steady load through the local stack, a worker killed every 5 minutes, a canary switched in.
bench-soak: setup
	$(VENV)/python -m bench.soak

# 30 minutes of labels for two models, one of them drifting: does the quality alert fire in time, and only there?
bench-quality-alerts: setup
	$(VENV)/python -m bench.quality_alerts

# Prediction p99 alone and under a flood of 10,000 labels a second; memory after half a million labels.
bench-feedback-flood: setup
	$(VENV)/python -m bench.feedback_flood

# The Open Inference Protocol over gRPC and REST, beside MLServer 1.7 serving the same artifact.
bench-oip: setup
	$(VENV)/python -m bench.oip

clean:
	rm -rf var .pytest_cache
