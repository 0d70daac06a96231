"""Template variables every dashboard shares, and the matchers panels use with them."""

from __future__ import annotations

from modelwatch.dashboards.panels import variable

JOB = 'job=~"$job"'
VERSION = 'model_name=~"$model", model_version=~"$version"'
INSTANCE = 'instance=~"$instance"'


def service_variables():
    """job (the service's scrape job), model, version (multi) and instance (multi)."""
    return [
        variable("job", "job", "label_values(model_info, job)"),
        variable("model", "model", 'label_values(model_info{job=~"$job"}, model_name)'),
        variable("version", "version", 'label_values(model_info{job=~"$job", model_name=~"$model"}, model_version)',
                 multi=True),
        variable("instance", "instance", 'label_values(up{job=~"$job"}, instance)', multi=True),
    ]
