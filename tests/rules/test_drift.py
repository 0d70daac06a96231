"""The drift shards' selectors (rules/drift.py): every feature slot is read by exactly one shard, the
one ``shard_of`` names (the bench's backfill and the figures' ``shard`` label rely on it), whatever
``prometheus.drift_shards`` is."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from modelwatch.core.series import FEATURE_SLOTS
from modelwatch.rules import rule_groups
from modelwatch.rules.drift import shard_of
from tests.conftest import make_config

SELECTED = re.compile(r'model_input_feature_bucket_total\{[^}]*?(?:feature_slot=~?"([\d|]+)")?\}')


@pytest.mark.parametrize("shards", [1, 7, 16, 32, 64])
def test_every_feature_slot_is_read_by_exactly_one_shard(tmp_path, shards):
    groups = rule_groups(make_config(tmp_path, PROMETHEUS__DRIFT_SHARDS=shards))["drift.rules.yml"]
    rates = [g for g in groups if g.name.startswith("modelwatch-drift-rate-shard-")]
    assert len(rates) == shards
    readers = Counter()
    for group in rates:
        (record,) = group.rules
        matched = SELECTED.search(record.expr)
        assert matched, record.expr
        # one shard reads every series, with no matcher (a set of all 64 slots would only cost)
        slots = [int(s) for s in matched.group(1).split("|")] if matched.group(1) else list(range(FEATURE_SLOTS))
        assert (matched.group(1) is None) == (shards == 1)
        assert all(shard_of(slot, shards) == record.labels["shard"] for slot in slots)
        readers.update(slots)
    assert readers == Counter(range(FEATURE_SLOTS))
