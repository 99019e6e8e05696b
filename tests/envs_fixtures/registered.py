"""Importing this registers the ultimatum fixture as `mercato/TestUltimatum-v0` (for experiments
that name it in ``imports``, so Ray workers register it too)."""

import tests.envs_fixtures.ultimatum_protocol  # noqa: F401  (gives the env its protocol)
from agents.registry import register_policy
from envs.core.registry import register_env
from tests.sim.ultimatum_runs import register_fixtures

register_fixtures()
register_env(
    "TestPennies-v0",
    kind="parallel",
    entry_point="tests.envs_fixtures.pennies:parallel_env",
    family="test",
    summary="Repeated matching pennies (Parallel test fixture).",
)


def _crash_once(env, *, seed: int, marker: str):
    """A player whose worker process dies the first time it acts (a marker file remembers)."""
    import os
    from pathlib import Path

    from agents.base import RandomPolicy

    class CrashOnce(RandomPolicy):
        def act(self, observation, agent):
            if not Path(marker).exists():
                Path(marker).write_text("crashed")
                os._exit(1)
            return super().act(observation, agent)

    return CrashOnce(env.action_space, seed=seed)


register_policy("ultimatum/crash-once", _crash_once, envs=("mercato/TestUltimatum-v0",))


def _slow_random(env, *, seed: int, delay_s: float = 0.05):
    """A random player that takes ``delay_s`` per decision: runs long enough to interrupt."""
    import time

    from agents.base import RandomPolicy

    class SlowRandom(RandomPolicy):
        def act(self, observation, agent):
            time.sleep(delay_s)
            return super().act(observation, agent)

    return SlowRandom(env.action_space, seed=seed)


register_policy("ultimatum/slow-random", _slow_random, envs=("mercato/TestUltimatum-v0",))


def _gated_random(env, *, seed: int, gate: str, timeout_s: float = 120.0):
    """A random player that waits until the file ``gate`` exists before its first decision: the
    shards it plays cannot finish before a test opens the gate, whatever the machine's speed."""
    import time
    from pathlib import Path

    from agents.base import RandomPolicy

    class GatedRandom(RandomPolicy):
        def act(self, observation, agent):
            deadline = time.monotonic() + timeout_s
            while not Path(gate).exists():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"gate {gate} was never opened")
                time.sleep(0.02)
            return super().act(observation, agent)

    return GatedRandom(env.action_space, seed=seed)


register_policy("ultimatum/gated-random", _gated_random, envs=("mercato/TestUltimatum-v0",))
