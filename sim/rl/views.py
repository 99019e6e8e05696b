"""Gymnasium ids of the single-agent views: ``mercato/<Env>-<Role>-v0``, registered on
``import sim`` (any ``sim`` module).

Each id makes one role of a mercato env the learner and seats registered policies in the other
roles (`sim.rl.single_agent.SingleAgentEnv`). An env family declares its views in its `EnvSpec`
(`envs.core.spec.ViewSpec`: the learner and the default opponents by policy name); ``sim``
registers them, because a view seats ``agents`` policies and ``envs`` never imports the layers
above it. ``gymnasium.make`` imports the engine when a view is made. Override
the opponents or the env's parameters at make time: ``gymnasium.make(id, opponents={...},
params={...})`` or env parameters as keyword arguments.
"""

from __future__ import annotations

import gymnasium


def register_views() -> None:
    """Register every ``mercato/<Env>-<Role>-v0`` that a registered env's spec declares with
    Gymnasium (idempotent; call it again after registering a family of your own)."""
    from envs.core.registry import list_envs

    for spec in list_envs():
        for view in spec.views:
            view_id = f"mercato/{view.name}"
            if view_id in gymnasium.registry:
                continue
            kwargs = {
                "env_id": spec.id,
                "learner": view.learner,
                "opponents": dict(view.opponents),
                "params": dict(view.params),
            }
            gymnasium.register(view_id, entry_point="sim.rl.single_agent:make_view", kwargs=kwargs)


def view_ids() -> list[str]:
    """The Gymnasium ids of every registered env's single-agent views, in registration order."""
    from envs.core.registry import list_envs

    return [f"mercato/{view.name}" for spec in list_envs() for view in spec.views]
