"""mercato's environments: ``import envs`` registers every family under ``mercato/`` in
PettingZoo's registry; `list_envs` describes them. (The single-agent Gymnasium views
``mercato/<Env>-<Role>-v0`` seat ``agents`` policies, so ``sim`` registers them: `sim.rl.views`.)"""

import envs.games
import envs.marketplace
import envs.recommendation
import envs.trials  # noqa: F401
from envs.core.registry import list_envs

# Each family package registers its ids when imported. Import each one here as it lands
# (envs.games, envs.marketplace, envs.trials, envs.recommendation; a side-effect import, so
# mark it noqa F401), so that `import envs` registers them all.

__all__ = ["list_envs"]
