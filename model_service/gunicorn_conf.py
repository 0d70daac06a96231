"""gunicorn settings and hooks for the model service, from the one configuration.

Hooks: the metrics folder is wiped at start; a dead worker's metric files are
folded into the archive (bounded files, monotonic counters) and the requests it
had in flight (its request ledger) are counted as 500s; SIGHUP to the master
reloads models from the registry in every worker instead of replacing the
workers.
"""

import os
from pathlib import Path

from modelwatch.model_service import multiprocess, request_ledger
from modelwatch.model_service.gunicorn_worker import RecyclingThreadWorker
from modelwatch.models.registry import Registry
from modelwatch.model_service.serving import request_reload
from modelwatch.core.config import load_config
from modelwatch.core.errors import ModelwatchError
from modelwatch.core.ports import check_port_free

_config = load_config()
_service = _config.service
_metrics_dir = Path(os.environ.get(multiprocess.ENV_VAR, _config.paths.multiproc_dir))



def _address(port: int) -> str:
    return f"[{_service.host}]:{port}" if ":" in _service.host else f"{_service.host}:{port}"


if _service.socket:  # behind the local edge proxy: only it (and this user) can connect
    bind = [f"unix:{_service.socket}"]
    umask = 0o077
else:
    bind = [_address(_service.port)]
if _service.metrics_port:  # /metrics apart from the API (the app answers each on its own listener)
    bind.append(_address(_service.metrics_port))
workers = _service.workers
threads = _service.threads
worker_class = "modelwatch.model_service.gunicorn_worker.RecyclingThreadWorker"
RecyclingThreadWorker.requests_per_connection = _service.keepalive_max_requests
RecyclingThreadWorker.freeze_heap = _service.freeze_heap
graceful_timeout = _service.graceful_timeout_seconds
max_requests = _service.max_requests
max_requests_jitter = max(0, _service.max_requests // 10)
pidfile = str(_config.paths.service_pid_file)
proc_name = f"modelwatch-{_config.model.name}"
keepalive = 5
accesslog = None
errorlog = "-"
# No control socket: several services (tests, benchmarks) may run side by side.
control_socket_disable = True


def on_starting(server):
    multiprocess.prepare_dir(_metrics_dir)
    if _service.grpc_port:
        # The workers share the port with SO_REUSEPORT, which would let another process of this user that
        # did too (a second service) share it silently: a plain bind first fails if anyone listens there.
        try:
            check_port_free(_service.host, _service.grpc_port)
        except ModelwatchError as exc:
            server.log.error("service.grpc_port: %s (another process listens there; 0 switches gRPC off)", exc)
            raise SystemExit(1)


def post_worker_init(worker):
    # In the worker, once its app has loaded: the gRPC server beside the HTTP threads.
    if _service.grpc_port:
        from modelwatch.model_service.oip_grpc import serve_app

        worker.grpc_server = serve_app(worker.wsgi, _service)


def worker_exit(server, worker):
    # In the worker: finish its gRPC calls, then write its pending metric updates before the master folds its files.
    from modelwatch.model_service.metric_buffer import flush_all

    grpc_server = getattr(worker, "grpc_server", None)
    if grpc_server is not None:
        grpc_server.stop(grace=_service.graceful_timeout_seconds).wait()
    flush_all()


_lost_requests = None  # the master's histogram, made at the first worker that dies mid-request


def child_exit(server, worker):
    # In the master: an exception here would end it, and with it the service.
    try:
        _count_lost_requests(server, worker.pid)
    except Exception:
        server.log.exception("could not read worker %s's request ledger; requests it had in flight are not counted",
                             worker.pid)
    try:
        multiprocess.fold_dead_worker(_metrics_dir, worker.pid)
    except Exception:
        server.log.exception("could not fold worker %s's metric files in %s; they stay, and are still summed",
                             worker.pid, _metrics_dir)


def _count_lost_requests(server, pid: int) -> None:
    """Its clients saw a reset and no worker recorded them: count them as 500s, so the SLO sees them."""
    global _lost_requests
    lost = request_ledger.take_lost_requests(_metrics_dir, pid)
    if not lost:
        return
    if _lost_requests is None:
        from modelwatch.model_service.metrics import http_duration_histogram

        _lost_requests = http_duration_histogram(None)  # multiprocess mode: written to the master's own file
    for request in lost:
        _lost_requests.labels(request.route, request.method, "500").observe(request.seconds)
    server.log.warning("worker %s died with %d request(s) in flight; counted as 500s", pid, len(lost))


def when_ready(server):
    registry = Registry(_config.paths.registry_dir, _config.model.name)

    def reload_models():
        server.log.info("SIGHUP: workers reload models from %s", registry.model_dir)
        try:
            request_reload(registry)
        except ModelwatchError as exc:  # an exception here would end the master: say why and keep serving
            server.log.error("SIGHUP: %s", exc)

    # The arbiter looks handlers up on the instance: HUP reloads models, not workers.
    server.handle_hup = reload_models
