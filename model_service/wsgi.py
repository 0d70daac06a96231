"""The WSGI entry point gunicorn loads: ``model_service.wsgi:app``."""

import logging

from modelwatch.model_service.app import create_app

logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
app = create_app()
