"""The exporter: host, process, container and cluster metrics, probes and
baselines on its own /metrics (issue 3; not built yet)."""
