"""The model plug-in's format, shared by the service, the exporter, the probe,
the rules, the load tests and the reports: the registry's per-version layout and
deployment file, and the data and performance baseline documents. Reading and
writing these needs no serving stack."""
