"""Locust load-test scenarios (issue 6; not built yet)."""
