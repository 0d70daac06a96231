"""The model service: a scikit-learn model behind a versioned, key-protected,
instrumented REST API (Flask served by gunicorn)."""
