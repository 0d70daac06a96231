"""A large namespace's pod list, as the API server would answer it: each pod
made from the model service Deployment's own pod template (k8s/base), with
what the API server adds — defaults, owner references, managed fields, a
status with conditions and container statuses. About 6 KB of JSON a pod, in
line with pods of real clusters (there is no API server here to record one)."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TIME = "2026-11-25T10:00:00Z"


def _template() -> dict:
    deployment = yaml.safe_load((ROOT / "k8s/base/model-service/deployment.yaml").read_text())
    return deployment["spec"]["template"]


def _managed_fields(spec: dict) -> list[dict]:
    """The server-side-apply bookkeeping the API server keeps on every object (often its largest part)."""
    containers = {f'k:{{"name":"{c["name"]}"}}': {
        ".": {}, "f:image": {}, "f:name": {}, "f:ports": {}, "f:resources": {"f:limits": {}, "f:requests": {}},
        "f:env": {f'k:{{"name":"{e["name"]}"}}': {".": {}, "f:name": {}, "f:value": {}} for e in c.get("env", [])},
        "f:volumeMounts": {f'k:{{"mountPath":"{m["mountPath"]}"}}': {".": {}, "f:mountPath": {}, "f:name": {}}
                           for m in c.get("volumeMounts", [])},
        "f:readinessProbe": {}, "f:livenessProbe": {}, "f:securityContext": {}} for c in spec["containers"]}
    return [
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": TIME,
         "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {}, "f:ownerReferences": {}},
                                                "f:spec": {"f:containers": containers}}},
        {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": TIME, "subresource": "status",
         "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:conditions": {}, "f:containerStatuses": {},
                                                             "f:hostIP": {}, "f:phase": {}, "f:podIP": {},
                                                             "f:podIPs": {}, "f:startTime": {}}}},
    ]


def pod_list(count: int, namespace: str = "modelwatch") -> dict:
    template = _template()
    spec = dict(copy.deepcopy(template["spec"]), nodeName="node-1", restartPolicy="Always", dnsPolicy="ClusterFirst",
                schedulerName="default-scheduler", terminationGracePeriodSeconds=30, enableServiceLinks=True,
                preemptionPolicy="PreemptLowerPriority", priority=0,
                tolerations=[{"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute",
                              "tolerationSeconds": 300} for t in ("not-ready", "unreachable")])
    managed = _managed_fields(spec)
    items = []
    for number in range(count):
        name = f"model-service-7d9f8c6b5d-{number:05d}"
        restarts = number % 7 == 0
        statuses = [{"name": c["name"], "image": c["image"], "imageID": f"docker-pullable://{c['image']}@sha256:{'a' * 64}",
                     "containerID": f"containerd://{uuid.uuid4().hex}{uuid.uuid4().hex}", "ready": number % 10 != 0,
                     "started": True, "restartCount": 2 if restarts else 0,
                     "state": {"running": {"startedAt": TIME}},
                     "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": TIME,
                                                  "finishedAt": TIME, "containerID": "containerd://old"}}
                     if restarts else {}} for c in spec["containers"]]
        items.append({
            "metadata": {"name": name, "generateName": "model-service-7d9f8c6b5d-", "namespace": namespace,
                         "uid": str(uuid.uuid4()), "resourceVersion": str(100000 + number),
                         "creationTimestamp": TIME, "labels": dict(template["metadata"].get("labels", {}),
                                                                   **{"pod-template-hash": "7d9f8c6b5d"}),
                         "annotations": template["metadata"].get("annotations", {}),
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "controller": True,
                                              "name": "model-service-7d9f8c6b5d", "uid": str(uuid.uuid4()),
                                              "blockOwnerDeletion": True}],
                         "managedFields": managed},
            "spec": spec,
            "status": {"phase": "Running", "hostIP": "127.0.0.1", "podIP": "127.0.0.2", "startTime": TIME,
                       "qosClass": "Burstable", "podIPs": [{"ip": "127.0.0.2"}],
                       "conditions": [{"type": kind, "status": "False" if kind == "Ready" and number % 10 == 0
                                       else "True", "lastProbeTime": None, "lastTransitionTime": TIME}
                                      for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
                       "containerStatuses": statuses},
        })
    return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "200000"}, "items": items}
