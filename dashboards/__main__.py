"""python -m dashboards: regenerate dashboards/generated/ for the default configuration."""

from modelwatch.dashboards import GENERATED_DIR
from modelwatch.dashboards.provisioning import write
from modelwatch.core.config import Config

# Compose and Kubernetes reach Prometheus by its service name.
for path in write(Config(), GENERATED_DIR, prometheus_url="http://prometheus:9090"):
    print(path)
