"""The Flask application: operational routes, error handling and wiring.

    app = create_app(load_config())
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import yaml
from flask import Response, request, send_from_directory
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from swagger_ui.utils import SWAGGER_UI_PY_ROOT
from werkzeug.exceptions import HTTPException

from modelwatch.model_service import multiprocess, openapi_models
from modelwatch.model_service.api import create_api, json_response
from modelwatch.model_service.auth import bearer_token_matches
from modelwatch.model_service.oip import create_oip
from modelwatch.model_service.http_metrics import HttpMetricsMiddleware, RouteRecordingFlask
from modelwatch.model_service.inputs import InputError
from modelwatch.model_service.keys import KeyStore
from modelwatch.model_service.label_budget import LabelBudget
from modelwatch.model_service.label_process import LabelProcess
from modelwatch.model_service.metrics import ServiceMetrics
from modelwatch.models.registry import Registry
from modelwatch.core.secret_keys import load_or_create_key
from modelwatch.model_service.prediction_ids import PredictionIds
from modelwatch.model_service.serving import ModelServer
from modelwatch.model_service.tabular_api import TabularApi
from modelwatch.core.config import Config, load_config
from modelwatch.core.errors import ModelwatchError

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
OPENAPI_FILE = HERE / "openapi.yaml"
SWAGGER_UI_ASSETS = SWAGGER_UI_PY_ROOT / "static"  # Swagger UI 5 from PyPI: no CDN


def _error(status: int, code: str, message: str) -> Response:
    return json_response({"error": {"status": status, "code": code, "message": message}}, status)


PROBES = ("/healthz", "/readyz")


def _public(server: ModelServer) -> str | None:
    """Why a model is not served, as /readyz (open to anyone) says it: the details are in the log."""
    return f"{server.public_error}; details in the service log" if server.public_error else server.public_error


def _listener_port(environ) -> str:
    """The port the request arrived on: the accepted socket's own address under gunicorn
    (never the client's Host header), else the server's."""
    sock = environ.get("gunicorn.socket")
    if sock is not None:
        try:
            address = sock.getsockname()
        except OSError:
            return ""
        return str(address[1]) if isinstance(address, tuple) else ""  # a unix socket: the API's
    return str(environ.get("SERVER_PORT", ""))


def _model_servers(config: Config, metrics, watch: bool, rng) -> dict[str, ModelServer]:
    """A server for the default model (even before it has a version: /readyz says why) and for every
    other registered model, each loaded and watching the registry."""
    names = [config.model.name, *(n for n in Registry.models(config.paths.registry_dir) if n != config.model.name)]
    servers = {}
    for name in names:
        registry = Registry(config.paths.registry_dir, name, config.paths.registry_key_file)
        server = ModelServer(registry, config.service.predictor, metrics, **({"rng": rng} if rng else {}))
        try:
            server.reload()
        except ModelwatchError:
            pass  # logged and counted; its routes answer 503 with the reason, /readyz says why
        if watch:
            server.watch(config.service.reload_poll_seconds)
        servers[name] = server
    return servers


def _prediction_id_key(config: Config) -> bytes:
    try:
        return load_or_create_key(config.paths.prediction_id_key_file)
    except OSError as exc:  # a read-only state folder (the images): ids stay valid within this worker only
        log.warning("cannot keep the prediction-id key in %s (%s): using a key of this worker's own, so ids do "
                    "not verify on other workers or after a restart", config.paths.prediction_id_key_file, exc.strerror)
        return os.urandom(32)


def create_app(config: Config | None = None, *, registry: CollectorRegistry | None = None, rng=None, watch: bool = True):
    """Build the service. Under gunicorn's multiprocess mode metrics go to the
    shared folder; otherwise to ``registry`` (a fresh one when not given)."""
    config = config or load_config()
    multiproc_dir = os.environ.get(multiprocess.ENV_VAR)
    metrics = None
    if config.service.instrumentation:
        if not multiproc_dir:
            registry = registry if registry is not None else CollectorRegistry()
        try:
            metrics = ServiceMetrics(None if multiproc_dir else registry, config.service.metrics_flush_seconds)
        except OSError as exc:  # the metrics filesystem is full: serve uninstrumented rather than not at all
            if not multiproc_dir:
                raise
            log.error("this worker serves without metrics (%s); it restarts once %s has room", exc, multiproc_dir)
            multiprocess.restart_when_writable(Path(multiproc_dir))

    if metrics is not None:
        metrics.flusher.start()
    app = RouteRecordingFlask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = config.service.max_body_bytes
    keystore = KeyStore(config.paths.keys_file, on_reload_failure=metrics.keys_reload_failed if metrics else None)
    openapi = yaml.safe_load(OPENAPI_FILE.read_text())
    servers = _model_servers(config, metrics, watch, rng)
    server = servers[config.model.name]
    key = _prediction_id_key(config)
    ids = PredictionIds(key)
    labels = LabelProcess(key, config.paths.labelled_ids_file, config.feedback.horizon_days * 86400)
    tabular = TabularApi(servers, metrics, ids, config.service.max_batch_size, labels,
                         LabelBudget(config.feedback.max_labels_per_second))

    app.register_blueprint(create_api(keystore, metrics, tabular, config.model.name))
    app.register_blueprint(create_oip(keystore, metrics, tabular))
    app.extensions["modelwatch"] = {"server": server, "keys": keystore, "metrics": metrics, "config": config,
                                    "servers": servers, "prediction_ids": ids, "tabular": tabular}

    if config.service.metrics_port:
        metrics_port = str(config.service.metrics_port)

        @app.before_request
        def metrics_apart():
            # /metrics only where Prometheus scrapes; the API not there. Probes answer on both.
            on_metrics_port = _listener_port(request.environ) == metrics_port
            if request.path in PROBES or (request.path == "/metrics") == on_metrics_port:
                return None
            return _error(404, "not_found", f"no such route: {request.path[:200]}")

    @app.get("/healthz")
    def healthz():
        return json_response({"status": "ok"})

    @app.get("/readyz")
    def readyz():
        # Ready when every model with versions is loaded: the default one (unless it has none, when
        # the service serves registered models only) and each registered one.
        serving = {name: s for name, s in servers.items()
                   if name != config.model.name or s.state or s.registry.versions()}
        if not serving:
            return json_response({"status": "not ready", "reason": _public(server)}, 503)
        waiting = {name: _public(s) for name, s in serving.items() if s.state is None}
        if waiting:
            name, reason = next(iter(waiting.items()))
            return json_response({"status": "not ready", "reason": f"{name}: {reason}"}, 503)
        state = server.state
        document = {"status": "ready", "versions": list(state.models) if state else [],
                    "models": {name: list(s.state.models) for name, s in serving.items()}}
        behind = {name: _public(s) for name, s in serving.items() if s.behind}
        if behind:  # still ready (the versions loaded before serve), but not what the registry says
            document["behind_deployment"] = behind
        return json_response(document)

    @app.get("/metrics")
    def metrics_endpoint():
        if not config.service.instrumentation:
            return _error(404, "not_found", "instrumentation is switched off")
        token = config.service.metrics_token
        if token and not bearer_token_matches(token):
            return _error(401, "missing_token" if "Authorization" not in request.headers else "invalid_token",
                          "/metrics needs the configured bearer token")
        if metrics is None and not Path(multiproc_dir).is_dir():
            return _error(503, "metrics_unavailable", "this worker's metrics folder is missing")
        try:
            if metrics is not None:  # None: a worker booted on a full disk still serves the others' files
                metrics.flush()  # this worker's pending updates; the others flush on their own timer
        except OSError as exc:  # a full metrics filesystem: serve what the files hold
            log.error("writing metrics before a scrape failed: %s", exc)
        source = multiprocess.multiprocess_registry(Path(multiproc_dir)) if multiproc_dir else registry
        return Response(generate_latest(source), mimetype=CONTENT_TYPE_LATEST)

    @app.get("/api/v1/openapi.json")
    def openapi_document():
        return json_response(openapi_models.document(openapi, tabular.loaded(), config.service.max_batch_size))

    @app.get("/api/docs")
    @app.get("/api/docs/")
    def docs():
        return send_from_directory(HERE / "static", "docs.html")

    @app.get("/api/docs/<path:asset>")
    def docs_asset(asset: str):
        return send_from_directory(SWAGGER_UI_ASSETS, asset)

    @app.errorhandler(InputError)
    def input_error(exc: InputError):
        response = json_response(exc.body(), exc.status)
        response.headers.update(exc.headers)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'ApiKey header="X-API-Key"'
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        messages = {404: f"no such route: {request.path[:200]}", 413: f"request body over {config.service.max_body_bytes} bytes"}
        response = _error(exc.code or 500, code, messages.get(exc.code, exc.description or code))
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path[:200])
        return _error(500, "internal_error", "the server failed to handle this request; see its log")

    if metrics is not None:
        app.wsgi_app = HttpMetricsMiddleware(app.wsgi_app, metrics)
    return app
