"""The exporter: what the model service cannot see about itself, on its own
/metrics (``modelwatch exporter``).

- ``exporter.collectors``: one module per collector and the table of them;
- ``exporter.scrape``: runs the enabled collectors with isolated failures and a
  deadline, and reports on each (``modelwatch_scrape_collector_*``);
- ``exporter.server``: the HTTP endpoint.

Built so far: the framework, the self metrics, and the baseline, host, process,
docker and probe collectors. The kubernetes collector is still to come.
"""
