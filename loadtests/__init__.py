"""Locust load tests for the model API: users (``users.py``), load shapes
(``shapes.py``), the scenario table (``scenarios.py``), the SLO gate
(``gate.py``) and the locustfile Locust runs (``locustfile.py``); ``modelwatch
load`` (``runner.py``) runs one headless."""
