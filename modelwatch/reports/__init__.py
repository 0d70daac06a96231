"""What is read back from Prometheus after a run: the performance baseline, the
HTML report and the demo's account."""
