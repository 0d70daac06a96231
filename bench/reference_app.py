"""(a) The reference: the smallest Flask + scikit-learn app that answers the
same request, with no metrics. Served by gunicorn like the others."""

import os
import warnings

import joblib
from flask import Flask, jsonify, request

app = Flask(__name__)
model = joblib.load(os.environ["MODELWATCH_BENCH_MODEL"])
FEATURES = ("sl", "sw", "pl", "pw")
# The model was fitted on a named frame; a plain row makes scikit-learn warn on every call (two log lines
# a request, 40,000 in a round, until 2026-12-01). A careful app silences it.
warnings.filterwarnings("ignore", message="X does not have valid feature names")


@app.route("/api/v1/classify", methods=["GET", "POST"])
def classify():
    row = [[float(request.args[name]) for name in FEATURES]]
    return jsonify({"species": str(model.predict(row)[0])})
