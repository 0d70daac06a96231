"""The ground floor every part stands on: configuration, errors, extras, ports,
the YAML writer, the Prometheus API client and the queries other parts share.
Nothing here imports a part or anything above this package."""
