"""The supervisor's pause between restarts of a component that keeps dying."""

from modelwatch.local.supervisor import LONGEST_PAUSE, STEADY_SECONDS, Restarts


def test_a_crash_loop_backs_off_to_a_minute_and_a_steady_component_starts_over():
    restarts, now, pauses = Restarts(), 1000.0, []
    for _ in range(10):
        assert restarts.due(now)
        restarts.restarted(now)
        pauses.append(restarts.not_before - now)
        assert not restarts.due(now + pauses[-1] - 0.01)
        now = restarts.not_before
    assert pauses[:4] == [1.0, 2.0, 4.0, 8.0] and pauses[-1] == LONGEST_PAUSE
    restarts.restarted(now + STEADY_SECONDS + 1)  # up for longer than a minute since the last restart
    assert restarts.not_before - (now + STEADY_SECONDS + 1) == 1.0 and restarts.count == 11
