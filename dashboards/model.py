"""Model behaviour: what each registered model is asked and answers, against
its reference data — class mix or predicted values, confidence, per-feature
drift with its thresholds, categories (live shares, unseen, Jensen-Shannon),
missing values — its live quality from labels sent later (accuracy and F1 or
MAE and RMSE against the reference, confusion matrix, coverage, label delay),
and inference time, batch sizes, versions and reloads.
The model, version and feature variables choose what is shown."""

from __future__ import annotations

from modelwatch.core import queries
from modelwatch.dashboards.panels import ORANGE, RED, Query, bargauge, dashboard, heatmap, matrix, rows, state_timeline, \
    stat, steps, table, timeseries
from modelwatch.dashboards.variables import FEATURE, JOB, VERSION, model_variables
from modelwatch.core.config import Config

UID = "modelwatch-model"


# Numeric features are those with cumulative reference shares (for KS); categorical ones have none.
NUMERIC = "and on (model_name, model_version, feature) modelwatch_baseline_feature_cumulative_fraction"
CATEGORICAL = "unless on (model_name, model_version, feature) modelwatch_baseline_feature_cumulative_fraction"
WHICH = "{{model_name}} {{model_version}}"
WHICH_FEATURE = f"{WHICH} {{{{feature}}}}"


def build(config: Config):
    alerts = config.alerts
    psi_steps = steps((alerts.drift_psi_warning, ORANGE), (alerts.drift_psi_critical, RED))
    ks_steps = steps((alerts.drift_ks_warning, ORANGE), (alerts.drift_ks_critical, RED))
    js_steps = steps((alerts.drift_js_warning, ORANGE), (alerts.drift_js_critical, RED))
    out_steps = steps((alerts.out_of_range_warning, ORANGE))
    model = f"{JOB}, {VERSION}"
    feature = f"{model}, {FEATURE}"
    reference = f"{VERSION}, {FEATURE}"
    answers = [
        bargauge(
            "Predicted class mix, last hour, against the reference",
            [Query(f"{queries.MODEL_VERSION_CLASS_MODEL_PREDICTED_CLASS_FRACTION1H}{{{model}}}", f"{WHICH} {{{{class}}}}"),
             Query(f'modelwatch_baseline_class_fraction{{{VERSION}}}', f"reference {WHICH} {{{{class}}}}")],
            "percentunit", maximum=1, description="Classifiers.",
        ),
        timeseries("Class mix shift (PSI)", Query(f"{queries.MODEL_VERSION_MODEL_PREDICTED_CLASS_PSI1H}{{{model}}}",
                                                  WHICH), "none", thresholds=psi_steps, show_thresholds=True),
        heatmap("Prediction confidence",
                f"sum by (le) (rate(model_prediction_confidence_bucket{{{model}}}[$__rate_interval]))", "percentunit"),
        timeseries("Predicted classes", Query(f"sum by (model_name, class) (rate(model_predicted_class_total{{{model}}}"
                                              "[$__rate_interval]))", "{{model_name}} {{class}}"),
                   "suffix: rows/s", stack=True),
        bargauge(
            "Predicted values, last hour, against the reference",
            [Query(f"{queries.MODEL_VERSION_BUCKET_MODEL_PREDICTION_BUCKET_FRACTION1H}{{{model}}}", f"{WHICH} {{{{bucket}}}}"),
             Query(f"modelwatch_baseline_prediction_fraction{{{VERSION}}}", f"reference {WHICH} {{{{bucket}}}}")],
            "percentunit", maximum=1,
            description="Regressors: share of predictions in each bucket of the reference predictions "
                        "(00 below their range, the last above it).",
        ),
        timeseries("Prediction drift (PSI)", Query(f"{queries.MODEL_VERSION_MODEL_PREDICTION_BUCKET_PSI1H}{{{model}}}",
                                                   WHICH), "none", thresholds=psi_steps, show_thresholds=True,
                   description="Regressors: PSI of the last hour's predictions against those on the reference data."),
    ]
    drift = [
        timeseries("Feature drift: PSI, last hour", Query(f"{queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_PSI1H}{{{feature}}}",
                                                           WHICH_FEATURE),
                   "none", thresholds=psi_steps, show_thresholds=True, width=8,
                   description=f"Population Stability Index against the reference data; needs "
                               f"{alerts.drift_min_rows} rows in the hour."),
        timeseries("Feature drift: KS distance, last hour",
                   Query(f"{queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_KS1H}{{{feature}}}", WHICH_FEATURE),
                   "none", thresholds=ks_steps, show_thresholds=True, width=8, description="Numeric features."),
        timeseries("Share of features drifting",
                   Query(f"{queries.MODEL_VERSION_MODEL_INPUT_FEATURE_DRIFTED_RATIO1H}{{{model}}}", WHICH),
                   "percentunit", thresholds=steps((alerts.drift_feature_share, RED)), show_thresholds=True, width=8,
                   description=f"Features whose PSI is over {alerts.drift_psi_warning:g}; alerted from "
                               f"{alerts.drift_feature_share:.0%} at once."),
        bargauge("Numeric inputs: live share per bucket, last hour",
                 Query(f"{queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_FRACTION1H}{{{feature}}} {NUMERIC}",
                       f"{WHICH_FEATURE} {{{{bucket}}}}"), "percentunit", maximum=1, width=12),
        bargauge("Numeric inputs: reference share per bucket",
                 Query(f"modelwatch_baseline_feature_fraction{{{reference}}} {NUMERIC}",
                       f"{WHICH_FEATURE} {{{{bucket}}}}"), "percentunit", maximum=1, width=12),
        timeseries("Inputs outside the reference range",
                   Query(f"{queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_OUT_OF_RANGE_RATIO1H}{{{feature}}}",
                         WHICH_FEATURE),
                   "percentunit", thresholds=out_steps, show_thresholds=True, width=24),
    ]
    categorical = [
        bargauge("Categories: live share, last hour",
                 Query(f"{queries.MODEL_VERSION_FEATURE_BUCKET_MODEL_INPUT_FEATURE_FRACTION1H}{{{feature}}} {CATEGORICAL}",
                       f"{WHICH_FEATURE} {{{{bucket}}}}"), "percentunit", maximum=1, width=12,
                 description=f"The reference's top {config.model.top_categories} categories, then (other), "
                             "(unseen) and (missing)."),
        bargauge("Categories: reference share",
                 Query(f"modelwatch_baseline_feature_fraction{{{reference}}} {CATEGORICAL}",
                       f"{WHICH_FEATURE} {{{{bucket}}}}"), "percentunit", maximum=1, width=12),
        timeseries("Categorical drift: Jensen-Shannon distance",
                   Query(f"{queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_JS1H}{{{feature}}}", WHICH_FEATURE),
                   "none", thresholds=js_steps, show_thresholds=True, width=8,
                   description="Base 2: 0 for the reference's category shares, 1 for no category in common."),
        timeseries("Unseen categories",
                   Query(f"{queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_UNSEEN_RATIO1H}{{{feature}}}",
                         WHICH_FEATURE),
                   "percentunit", thresholds=steps((alerts.unseen_share_warning, ORANGE)), show_thresholds=True,
                   width=8, description="Share of the hour's values in categories the reference never had."),
        timeseries("Missing values",
                   [Query(f"{queries.MODEL_VERSION_FEATURE_MODEL_INPUT_FEATURE_MISSING_RATIO1H}{{{feature}}}",
                          f"live {WHICH_FEATURE}"),
                    Query(f"modelwatch_baseline_feature_missing_fraction{{{reference}}}",
                          f"reference {WHICH_FEATURE}")],
                   "percentunit", width=8,
                   description=f"Share of rows missing the feature; alerted {alerts.missing_share_increase:.0%} "
                               "over the reference's share."),
    ]

    def reference_quality(metrics: str) -> str:
        return f'modelwatch_baseline_quality{{{VERSION}, metric=~"{metrics}"}}'

    labels_needed = (f"The alerts read the last 10 minutes once {alerts.quality_min_labels} labels arrived in them; "
                     f"they fire {alerts.quality_margin:g} below the reference.")
    quality = [
        timeseries("Live accuracy and macro-F1, last hour, against the reference", [
            Query(f"{queries.MODEL_VERSION_MODEL_ACCURACY_RATIO1H}{{{model}}}", f"accuracy {WHICH}"),
            Query(f"{queries.MODEL_VERSION_MODEL_F1_MACRO_RATIO1H}{{{model}}}", f"macro-F1 {WHICH}"),
            Query(reference_quality("accuracy|f1_macro"), f"reference {{{{metric}}}} {WHICH}"),
        ], "percentunit", width=8, description=f"Classifiers, on the labels sent for their predictions. {labels_needed}"),
        timeseries("Live error, last hour, against the reference", [
            Query(f"{queries.MODEL_VERSION_MODEL_PREDICTION_ERROR_RMSE1H}{{{model}}}", f"RMSE {WHICH}"),
            Query(f"{queries.MODEL_VERSION_MODEL_PREDICTION_ERROR_MAE1H}{{{model}}}", f"MAE {WHICH}"),
            Query(reference_quality("rmse|mae"), f"reference {{{{metric}}}} {WHICH}"),
        ], "none", width=8, description=f"Regressors. The alert fires at {alerts.quality_error_factor:g}x the "
                                        "reference RMSE."),
        bargauge("F1 per class, last hour, against the reference", [
            Query(f'{queries.quality_record("model_version_class", "model_f1", "ratio", "1h")}{{{model}}}',
                  f"{WHICH} {{{{class}}}}"),
            Query(f"modelwatch_baseline_class_f1{{{VERSION}}}", f"reference {WHICH} {{{{class}}}}"),
        ], "percentunit", maximum=1, width=8),
        matrix("Confusion matrix, last day (rows: predicted, columns: actual)",
               f'label_join(round(sum by (model_name, model_version, predicted, actual) '
               f'(increase(model_confusion_total{{{model}}}[1d]))), "predicted_as", " ", '
               f'"model_name", "model_version", "predicted")',
               "predicted_as", "actual", width=8,
               description="Labelled predictions of each class (rows) by the class the label says (columns)."),
        timeseries("Labelled share of predictions, last day",
                   Query(f"{queries.MODEL_VERSION_MODEL_FEEDBACK_COVERAGE1D}{{{model}}}", WHICH), "percentunit",
                   width=8, description="Coverage: accepted labels per successful prediction. Live quality speaks "
                                        "for the predictions that get labels."),
        timeseries("Label delay", [
            Query(f"histogram_quantile({q}, sum by (model_name, le) "
                  f"(rate(model_label_delay_seconds_bucket{{{model}}}[$__rate_interval])))", f"{{{{model_name}}}} p{q}")
            for q in (0.5, 0.9)], "s", width=8, description="Time from a prediction to its accepted label."),
        timeseries("Labels received, by outcome", Query(
            f"sum by (model_name, outcome) (rate(model_feedback_total{{{model}}}[$__rate_interval]))",
            "{{model_name}} {{outcome}}"), "suffix: labels/s", stack=True, width=24,
            description=f"accepted; duplicate (already labelled); unknown_id; expired (a prediction older than "
                        f"{config.feedback.horizon_days} days); invalid (refused with a 4xx)."),
    ]
    runtime = [
        timeseries("Inference time",
                   Query(f"{queries.JOB_MODEL_VERSION_MODEL_INFERENCE_DURATION_SECONDS_HISTOGRAM_QUANTILE}{{{model}}}",
                         f"{WHICH} p{{{{quantile}}}}"), "s"),
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
    panels = rows(("Answers", answers), ("Drift against the reference data", drift),
                  ("Categorical inputs and missing values", categorical),
                  ("Quality from labels sent later", quality), ("Inference and versions", runtime))
    return dashboard("modelwatch / Model behaviour", UID,
                     "What each model is asked and what it answers, against its reference data.",
                     panels, model_variables())
