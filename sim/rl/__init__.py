"""RL: the single-agent Gymnasium views (`views`, `single_agent`), observation encoders
(`encoders`, `pettingzoo_encoders`), discrete action grids (`action_grid`) and the recipes for
Stable-Baselines3 and RLlib (`training`, re-exported here: ``from sim.rl import flat_view``).

The recipes import RLlib and Stable-Baselines3 only when used (``pip install 'mercato[rl]'``).
"""

from sim.rl.training import (
    flat_pettingzoo,
    flat_view,
    mean_return,
    policy_return,
    ppo_config,
    rllib_env,
    role_of_agent,
)

__all__ = [
    "flat_pettingzoo",
    "flat_view",
    "mean_return",
    "policy_return",
    "ppo_config",
    "rllib_env",
    "role_of_agent",
]
