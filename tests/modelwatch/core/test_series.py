"""Feature slots: where each feature's bucket series fall among the drift shards."""

from __future__ import annotations

import hashlib
from collections import Counter

from modelwatch.core.series import FEATURE_SLOTS, feature_slots


def test_a_feature_keeps_its_slot_whatever_the_order_its_model_lists_features_in():
    features = [f"f{i:02d}" for i in range(30)]
    slots = feature_slots("credit", features)
    assert slots == feature_slots("credit", reversed(features))
    assert all(0 <= int(slot) < FEATURE_SLOTS for slot in slots.values())
    assert len(set(slots.values())) == 30  # up to 64 features, each its own slot


def test_more_features_than_slots_share_them_evenly():
    slots = Counter(feature_slots("wide", [f"f{i:03d}" for i in range(200)]).values())
    assert len(slots) == FEATURE_SLOTS and max(slots.values()) - min(slots.values()) <= 1


def test_each_models_features_fill_the_shards_in_turn_where_a_hash_left_them_uneven():
    models = {f"model-{m}": [f"f{i:02d}" for i in range(30)] for m in range(5)}
    for shards in (8, 16, 32):
        by_slot, by_hash = Counter(), Counter()
        for model, features in models.items():
            per_model = Counter(int(slot) % shards for slot in feature_slots(model, features).values())
            assert max(per_model.values()) - min(per_model[s] for s in range(shards)) <= 1, (model, shards)
            by_slot.update(per_model)
            for feature in features:  # Prometheus' hashmod: the MD5's last 8 bytes, modulo
                digest = hashlib.md5(f"{model};{feature}".encode()).digest()
                by_hash[int.from_bytes(digest[8:], "big") % shards] += 1
        assert max(by_slot.values()) < max(by_hash.values()), shards  # the fullest shard sets the limit
