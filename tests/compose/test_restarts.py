import pytest

from compose.restarts import RestartBackoff, describe_exit

pytestmark = pytest.mark.unit


def test_quick_crashes_double_the_wait_up_to_the_cap() -> None:
    backoff = RestartBackoff(initial_s=1, max_s=30, reset_after_s=60)
    assert [backoff.delay(uptime_s=0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_child_that_ran_long_enough_starts_over_at_the_first_wait() -> None:
    backoff = RestartBackoff(initial_s=1, max_s=30, reset_after_s=60)
    for _ in range(4):
        backoff.delay(uptime_s=1)
    assert backoff.delay(uptime_s=59) == 16
    assert backoff.delay(uptime_s=60) == 1
    assert backoff.delay(uptime_s=2) == 2


def test_an_exit_names_its_code_or_its_signal() -> None:
    assert describe_exit(1) == "exit code 1"
    assert describe_exit(0) == "exit code 0"
    assert describe_exit(-9) == "signal SIGKILL"
    assert describe_exit(-15) == "signal SIGTERM"
