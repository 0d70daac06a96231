"""Feature slots: where each feature's bucket series fall among the drift shards."""

from __future__ import annotations

import hashlib
from collections import Counter

from modelwatch.core.series import FEATURE_SLOTS, feature_slots, least_crowded_offset, offsets_in_turn, slot_offset


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


def test_models_registered_in_turn_fill_every_shard_within_one_feature():
    models = {"iris": 4, **{f"model-{m}": 30 for m in range(5)}}  # the rules benchmark's registry
    offsets = offsets_in_turn(models)
    assert offsets["iris"] == 0 and offsets["model-0"] == 4 and offsets["model-1"] == 34
    for shards in (1, 8, 16, 32, 64):  # those that divide the slots (7 leaves slot residue 0 a tenth fuller)
        chosen, by_name = Counter(), Counter()
        for model, width in models.items():
            features = [f"f{i:02d}" for i in range(width)]
            chosen.update(int(s) % shards for s in feature_slots(model, features, offsets[model]).values())
            by_name.update(int(s) % shards for s in feature_slots(model, features).values())
        assert max(chosen.values()) - min(chosen[s] for s in range(shards)) <= 1, (shards, chosen)
        if shards == 64:  # offsets from the names overlapped: some shards held five features, others one
            assert max(by_name.values()) > max(chosen.values())


def test_a_new_model_takes_the_free_slots_and_a_full_registry_the_least_shared():
    assert least_crowded_offset([], 10) == 0
    assert least_crowded_offset(range(0, 20), 10) == 20
    assert least_crowded_offset([*range(0, 10), *range(30, 64)], 10) == 10  # the gap just fits
    assert least_crowded_offset(range(FEATURE_SLOTS), 3) == 0  # all shared alike: the lowest
    assert least_crowded_offset([*range(FEATURE_SLOTS), 0, 1], 2) == 2  # not where two already are
    assert least_crowded_offset([5], 0) == 0  # a model without features changes nothing


def test_a_version_registered_before_offsets_keeps_the_slots_its_name_gave():
    features = ["a", "b"]
    assert feature_slots("old", features) == feature_slots("old", features, slot_offset("old"))
    assert feature_slots("old", features, 62) == {"a": "62", "b": "63"}
    assert feature_slots("old", ["a", "b", "c"], 63) == {"a": "63", "b": "0", "c": "1"}  # round the slots
