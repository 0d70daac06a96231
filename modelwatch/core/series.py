"""What the service's histograms count in: their bucket bounds. The SLO
threshold must be one of the latency bounds (the configuration checks it), and
the rules, dashboards and benchmarks read the same tuples.
"""

import zlib
from collections import Counter
from collections.abc import Iterable

# OpenTelemetry's advised buckets, with 1 ms and 2.5 ms in front: an Iris
# prediction takes well under a millisecond, and a latency SLO needs a bucket
# boundary near its threshold.
HTTP_DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
# gRPC calls, in milliseconds as OpenTelemetry's rpc.server.duration: the HTTP bounds, so both compare.
RPC_DURATION_BUCKETS_MS = tuple(round(bound * 1000, 3) for bound in HTTP_DURATION_BUCKETS)
INFERENCE_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 0.01, 0.025, 0.1)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)
CONFIDENCE_BUCKETS = (0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
# From a prediction to its label: a minute to a month (the feedback horizon is 14 days by default).
LABEL_DELAY_BUCKETS = (60, 600, 3600, 6 * 3600, 86400, 3 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)
# A regressor's error in its target's unit: only the distribution's shape depends on these, since
# MAE and RMSE come from the sums (model_prediction_squared_error_total).
ABSOLUTE_ERROR_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000)
SIGNED_ERROR_BUCKETS = (-1000, -100, -10, -1, -0.1, -0.01, 0, 0.01, 0.1, 1, 10, 100, 1000)


def bucket_label(index: int) -> str:
    """The ``bucket`` label of a feature's bucket: "00" below the reference range, then "01".."""
    return f"{index:02d}"


# The per-bucket drift rules run in shards (rules/drift.py); a feature's shard is its slot modulo
# ``prometheus.drift_shards``, which is at most this many.
FEATURE_SLOTS = 64
FEATURE_SLOT = "feature_slot"


def slot_offset(model_name: str, stored: int | None = None) -> int:
    """Where a model version's feature slots start: the offset registration chose and stored in its data
    baseline (``feature_slot_offset``), or, for a version registered before registration chose one, an
    offset given by the model's name."""
    return zlib.crc32(model_name.encode()) % FEATURE_SLOTS if stored is None else stored


def feature_slots(model_name: str, features: Iterable[str], offset: int | None = None) -> dict[str, str]:
    """The ``feature_slot`` label of each feature of a model version, as the service and the exporter
    both label its bucket series: consecutive slots, in name order, from its ``slot_offset``. A model's
    features then go round the shards in turn (no shard holds two more of them than another when the
    shards divide the slots), where a hash of model and feature filled some shards three times fuller
    than others."""
    start = slot_offset(model_name, offset)
    return {name: str((start + i) % FEATURE_SLOTS) for i, name in enumerate(sorted(features))}


def least_crowded_offset(occupied: Iterable[int], width: int) -> int:
    """The offset for a new model of ``width`` features, given the slots the registered models' features
    hold (a slot once per feature): the one that leaves the fullest slot emptiest, then the fewest
    features sharing a slot, then the lowest. Models registered one after another so fill the slots in
    turn, and every shard reads about as many features (offsets from the names overlapped by chance: at
    64 shards, 5 models x 30 features gave some shards 5 features and others 1)."""
    counts = Counter(occupied)

    def crowding(offset: int) -> tuple[int, int]:
        after = counts.copy()
        after.update((offset + i) % FEATURE_SLOTS for i in range(width))
        return max(after.values(), default=0), sum(n * n for n in after.values())

    return min(range(FEATURE_SLOTS), key=crowding)


def offsets_in_turn(widths: dict[str, int]) -> dict[str, int]:
    """Each model's offset (features per model, in registration order) as registration gives them to
    models registered one after another: what a benchmark's registry of synthetic models would hold."""
    offsets: dict[str, int] = {}
    occupied: list[int] = []
    for model, width in widths.items():
        offsets[model] = least_crowded_offset(occupied, width)
        occupied += [(offsets[model] + i) % FEATURE_SLOTS for i in range(width)]
    return offsets
