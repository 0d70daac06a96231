"""The benchmark's pairing of variants measured in the same round."""

from bench.service import paired_ratio


def test_paired_ratio_is_the_median_of_same_round_ratios_not_the_ratio_of_medians():
    # Round 2 ran on a loaded machine: both variants slowed down together.
    results = {"c": [{"round": 1, "rps": 95}, {"round": 2, "rps": 48}, {"round": 3, "rps": 99}],
               "b": [{"round": 1, "rps": 100}, {"round": 2, "rps": 50}, {"round": 3, "rps": 100}]}
    assert paired_ratio(results, "c", "b") == 0.96
    assert paired_ratio(results, "b", "c") == 100 / 96


def test_rounds_a_variant_missed_are_left_out_and_nothing_paired_gives_none():
    results = {"c": [{"round": 1, "rps": 90}, {"round": 2, "rps": 80}], "b": [{"round": 2, "rps": 100}]}
    assert paired_ratio(results, "c", "b") == 0.8
    assert paired_ratio({"c": results["c"], "b": []}, "c", "b") is None
    assert paired_ratio(results, "c", "absent") is None
