"""mercato's environments: ``import envs`` registers every family under ``mercato/`` in
PettingZoo's registry, and the single-agent views ``mercato/<Env>-<Role>-v0`` in Gymnasium's;
`list_envs` describes them."""

import envs.games
import envs.marketplace
import envs.recommendation
import envs.trials  # noqa: F401
from envs.core.registry import list_envs
from envs.gym_ids import register_views

register_views()

# Each family package registers its ids when imported. Import each one here as it lands
# (envs.games, envs.marketplace, envs.trials, envs.recommendation; a side-effect import, so
# mark it noqa F401), so that `import envs` registers them all.

__all__ = ["list_envs"]
