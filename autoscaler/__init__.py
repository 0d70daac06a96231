"""The local autoscaler: the Kubernetes HPA algorithm on a Prometheus metric, scaling the service's replicas."""
