"""A toy environment family written the way every mercato family is: Nim, two players take
1 to ``max_take`` tokens in turn and whoever takes the last one wins.

Importing this package registers ``mercato/Nim-v0`` with its `EnvSpec` (parameters, protocol,
metrics, a single-agent view) and its scripted players; an experiment names it in ``imports:``
(docs/architecture.md, "Add an environment family"). The files are the family layout:
`params` (the frozen `Params`), `rules` (pure functions: the optimal move and the metrics),
`env` (the PettingZoo env), `protocol` (the text protocol), `policies` (scripted players).
"""

from agents.registry import register_policy
from envs.core.registry import register_env
from envs.core.spec import ViewSpec
from nim.params import NimParams
from nim.policies import optimal_player

ENV_ID = "mercato/Nim-v0"

register_env(
    "Nim-v0",
    kind="aec",
    entry_point="nim.env:env",
    family="nim",
    summary="Two players take 1 to max_take tokens in turn; whoever takes the last one wins",
    params=NimParams,
    protocol="nim.protocol:NimProtocol",
    metrics={
        "first_wins": "1 if the first player took the last token, else 0",
        "turns": "moves played",
        "first_should_win": "1 if the first player wins with optimal play from the start",
    },
    views=(ViewSpec("Nim-Second-v0", "second_0", {"first": "nim/optimal"}),),
)
register_policy(
    "nim/optimal",
    optimal_player,
    envs=(ENV_ID,),
    summary="Leaves a multiple of max_take + 1 tokens whenever it can",
)
