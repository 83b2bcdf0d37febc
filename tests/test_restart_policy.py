"""The restart policy on its own, without a process: what follows each crash."""

from __future__ import annotations

from tui_chat.service.restart_policy import (
    SERVER_PROBE_MAX_SECONDS,
    SERVER_PROBE_SECONDS,
    SERVER_RETRY_MAX_SECONDS,
    SERVER_RETRY_SECONDS,
    GiveUp,
    Restart,
    RestartPolicy,
)


def test_a_local_model_is_restarted_at_once_until_the_limit() -> None:
    policy = RestartPolicy(3)
    decisions = [policy.after_crash(server=False) for _ in range(3)]
    assert decisions == [Restart(0.0), Restart(0.0), GiveUp(None)]
    assert policy.crashes == 3


def test_a_finished_reply_forgets_earlier_crashes() -> None:
    policy = RestartPolicy(2)
    assert policy.after_crash(server=False) == Restart()
    policy.after_success()
    assert policy.after_crash(server=False) == Restart(), "the count started again"
    assert policy.after_crash(server=False) == GiveUp()


def test_a_server_gets_a_pause_that_doubles_up_to_the_longest() -> None:
    policy = RestartPolicy(100)
    pauses = [policy.after_crash(server=True) for _ in range(8)]
    expected = [min(SERVER_RETRY_SECONDS * 2**n, SERVER_RETRY_MAX_SECONDS) for n in range(8)]
    assert pauses == [Restart(p) for p in expected]
    assert expected[-1] == SERVER_RETRY_MAX_SECONDS


def test_giving_up_on_a_server_schedules_checks_ever_more_seldom() -> None:
    policy = RestartPolicy(1)
    decision = policy.after_crash(server=True)
    assert decision == GiveUp(SERVER_PROBE_SECONDS)
    waits = [SERVER_PROBE_SECONDS]
    for _ in range(5):
        waits.append(RestartPolicy.next_probe(waits[-1]))
    assert waits == sorted(waits)
    assert waits[-1] == SERVER_PROBE_MAX_SECONDS


def test_trying_again_gives_the_full_limit_or_the_attempts_asked() -> None:
    policy = RestartPolicy(3)
    for _ in range(3):
        policy.after_crash(server=False)
    policy.reset()
    assert policy.crashes == 0
    policy.reset(attempts=1)
    assert policy.after_crash(server=True) == GiveUp(SERVER_PROBE_SECONDS), "one attempt only"
