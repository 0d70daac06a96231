"""Template variables every dashboard shares, and the matchers panels use with them."""

from __future__ import annotations

from modelwatch.dashboards.panels import variable

JOB = 'job=~"$job"'
VERSION = 'model_name=~"$model", model_version=~"$version"'
FEATURE = 'feature=~"$feature"'
INSTANCE = 'instance=~"$instance"'


def service_variables():
    """job (the service's scrape job), model, version and instance (the last three multi)."""
    return [
        variable("job", "job", "label_values(model_info, job)"),
        variable("model", "model", 'label_values(model_info{job=~"$job"}, model_name)', multi=True),
        variable("version", "version", 'label_values(model_info{job=~"$job", model_name=~"$model"}, model_version)',
                 multi=True),
        variable("instance", "instance", 'label_values(up{job=~"$job"}, instance)', multi=True),
    ]


def model_variables():
    """The service's variables and the chosen models' features (multi): what the model dashboard filters by."""
    return [*service_variables(),
            variable("feature", "feature",
                     f"label_values(modelwatch_baseline_feature_fraction{{{VERSION}}}, feature)", multi=True)]
