"""The exporter: what the model service cannot see about itself, on its own
/metrics (``modelwatch exporter``).

- ``exporter.collectors``: one module per collector and the table of them;
- ``exporter.scrape``: runs the enabled collectors with isolated failures and a
  deadline, and reports on each (``modelwatch_scrape_collector_*``);
- ``exporter.server``: the HTTP endpoint.

Collectors: baseline, host, process, docker, kubernetes and probe.
"""
