"""Everything modelwatch writes for other programs and commits, from the one
configuration, in dependency order: the rule files, then the dashboards, then
what embeds them (the Kubernetes manifests' PrometheusRule and dashboards
ConfigMap, the compose deployment's Prometheus and Alertmanager files).

``modelwatch generate`` (``make generate``) writes them into the checkout; a
test regenerates them into a temporary folder and fails on any difference.
"""

from __future__ import annotations

from pathlib import Path

from modelwatch.core.config import Config

REPO_ROOT = Path(__file__).resolve().parents[2]
# Folders whose every file is generated: a file no longer generated is removed.
GENERATED_FOLDERS = (
    Path("rules/generated"), Path("dashboards/generated"), Path("k8s/base/generated"),
    Path("k8s/overlays/keda/generated"), Path("k8s/overlays/prometheus-adapter/generated"),
)
# Compose and Kubernetes reach Prometheus by its service name.
IN_CLUSTER_PROMETHEUS = "http://prometheus:9090"


def generated_files(config: Config) -> dict[Path, str]:
    """Every generated file (path relative to the repository) -> its text, in dependency order."""
    from modelwatch.dashboards.provisioning import provisioning_files
    from modelwatch.generate import compose, kubernetes
    from modelwatch.rules import rule_files

    files = {Path("rules/generated") / name: text for name, text in rule_files(config).items()}
    grafana = provisioning_files(config, IN_CLUSTER_PROMETHEUS)
    files.update({Path("dashboards/generated") / relative: text for relative, text in grafana.items()})
    dashboards = {relative.name: text for relative, text in grafana.items() if relative.parent == Path("dashboards")}
    files.update({Path("k8s") / relative: text for relative, text in kubernetes.generated_files(config, dashboards).items()})
    files.update({Path("compose") / name: text for name, text in compose.generated_files(config).items()})
    return files


def differences(config: Config, root: Path = REPO_ROOT) -> list[str]:
    """What ``write`` would change below ``root``: files that differ, are missing, or are no longer generated."""
    files = generated_files(config)
    changed = [str(path) for path, text in files.items()
               if not (root / path).is_file() or (root / path).read_text() != text]
    extra = [str(path.relative_to(root)) for folder in GENERATED_FOLDERS for path in sorted((root / folder).rglob("*"))
             if path.is_file() and path.relative_to(root) not in files]
    return changed + [f"{path} (no longer generated)" for path in extra]


def write(config: Config, root: Path = REPO_ROOT) -> list[Path]:
    """Write every generated file below ``root`` and remove the ones no longer generated."""
    files = generated_files(config)
    for folder in GENERATED_FOLDERS:
        for path in (root / folder).rglob("*"):
            if path.is_file() and path.relative_to(root) not in files:
                path.unlink()
    written = []
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written
