"""(a) The reference: the smallest Flask + scikit-learn app that answers the
same request, with no metrics. Served by gunicorn like the others."""

import os

import joblib
from flask import Flask, jsonify, request

app = Flask(__name__)
model = joblib.load(os.environ["MODELWATCH_BENCH_MODEL"])
FEATURES = ("sl", "sw", "pl", "pw")


@app.route("/api/v1/classify", methods=["GET", "POST"])
def classify():
    row = [[float(request.args[name]) for name in FEATURES]]
    return jsonify({"species": str(model.predict(row)[0])})
