"""Model behaviour: what the model is asked and answers, against its training
data — class mix, confidence, per-feature drift with its thresholds,
out-of-range inputs — and inference time, batch sizes, versions and reloads."""

from __future__ import annotations

from modelwatch.core import queries
from modelwatch.dashboards.panels import ORANGE, RED, Query, bargauge, dashboard, heatmap, rows, state_timeline, stat, steps, \
    table, timeseries
from modelwatch.dashboards.variables import JOB, VERSION, service_variables
from modelwatch.core.config import Config

UID = "modelwatch-model"


def build(config: Config):
    alerts = config.alerts
    psi_steps = steps((alerts.drift_psi_warning, ORANGE), (alerts.drift_psi_critical, RED))
    ks_steps = steps((alerts.drift_ks_warning, ORANGE), (alerts.drift_ks_critical, RED))
    out_steps = steps((alerts.out_of_range_warning, ORANGE))
    model = f"{JOB}, {VERSION}"
    answers = [
        bargauge(
            "Predicted class mix, last hour, against training",
            [Query(f"{queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_FRACTION1H}{{{model}}}", "{{model_version}} {{class}}"),
             Query(f'modelwatch_baseline_class_fraction{{{VERSION}}}', "training {{model_version}} {{class}}")],
            "percentunit", maximum=1,
        ),
        timeseries("Class mix shift (PSI)", Query(f"{queries.MODEL_VERSION_MODEL_PREDICTED_CLASS_PSI1H}{{{model}}}",
                                                  "{{model_version}}"), "none", thresholds=psi_steps,
                   show_thresholds=True),
        heatmap("Prediction confidence",
                f"sum by (le) (rate(model_prediction_confidence_bucket{{{model}}}[$__rate_interval]))", "percentunit"),
        timeseries("Predicted classes", Query(f"sum by (class) (rate(model_predicted_class_total{{{model}}}"
                                              "[$__rate_interval]))", "{{class}}"), "suffix: rows/s", stack=True),
    ]
    drift = [
        timeseries("Feature drift: PSI, last hour", Query(f"{queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_PSI1H}{{{model}}}",
                                                           "{{model_version}} {{feature}}"),
                   "none", thresholds=psi_steps, show_thresholds=True, width=8,
                   description=f"Population Stability Index against the training data; needs "
                               f"{alerts.drift_min_rows} rows in the hour."),
        timeseries("Feature drift: KS distance, last hour",
                   Query(f"{queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_KS1H}{{{model}}}", "{{model_version}} {{feature}}"),
                   "none", thresholds=ks_steps, show_thresholds=True, width=8),
        timeseries("Inputs outside the training range",
                   Query(f"{queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_OUT_OF_RANGE_RATIO1H}{{{model}}}",
                         "{{model_version}} {{feature}}"),
                   "percentunit", thresholds=out_steps, show_thresholds=True, width=8),
        bargauge("Live share per bucket, last hour",
                 Query(f"{queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_FRACTION1H}{{{model}}}",
                       "{{model_version}} {{feature}} {{bucket}}"), "percentunit", maximum=1, width=12),
        bargauge("Training share per bucket",
                 Query(f"modelwatch_baseline_feature_fraction{{{VERSION}}}", "{{model_version}} {{feature}} {{bucket}}"),
                 "percentunit", maximum=1, width=12),
    ]
    runtime = [
        timeseries("Inference time",
                   Query(f"{queries.JOB_MODEL_VERSION_MODEL_INFERENCE_DURATION_SECONDS_HISTOGRAM_QUANTILE}{{{model}}}",
                         "{{model_version}} p{{quantile}}"), "s"),
        heatmap("Batch sizes", f"sum by (le) (rate(model_batch_size_bucket{{{model}}}[$__rate_interval]))", "short"),
        table("Versions loaded", Query(f"model_info{{{JOB}}} == 1"), "none", width=12,
              hidden_columns=("Time", "__name__", "Value", "instance")),
        state_timeline("Versions serving", Query(queries.MODELWATCH_MODEL_VERSION_INFO, "{{model_version}} ({{role}})"),
                       "none", thresholds=steps((1, "green"), base="transparent")),
        stat("Since the last successful load", f"time() - max(model_last_reload_success_timestamp_seconds{{{JOB}}})",
             "s"),
        stat("Rejected loads, last hour", f"sum(increase(model_reload_failures_total{{{JOB}}}[1h]))", "short",
             thresholds=steps((1, RED))),
        timeseries("Reload events", [
            Query(f"sum(changes(model_last_reload_success_timestamp_seconds{{{JOB}}}[$__rate_interval]))", "loaded"),
            Query(f"sum by (reason) (increase(model_reload_failures_total{{{JOB}}}[$__rate_interval]))",
                  "rejected: {{reason}}"),
        ], "short", width=12, description="Deployments loaded by the replicas, and versions they rejected (by reason)."),
    ]
    panels = rows(("Answers", answers), ("Drift against the training data", drift), ("Inference and versions", runtime))
    return dashboard("modelwatch / Model behaviour", UID,
                     "What the model is asked and what it answers, against its training data.",
                     panels, service_variables())
