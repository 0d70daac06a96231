"""Grafana dashboards generated from Python (issue 5; not built yet)."""
