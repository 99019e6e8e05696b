"""Conversational recommendation: ``import envs.recommendation`` registers
``mercato/RecDialogue-v0`` (`envs.recommendation.dialogue`) and ``mercato/RecFeed-v0``
(`envs.recommendation.feed`).

Modules: `catalog` and `catalog_generator` (generated item catalogs, 100 to 100,000 items),
`search` (BM25 and semantic search over a catalog), `need` (a simulated user's hidden need and
phrasing), `dialogue` and `dialogue_protocol`, `commands` (feed commands to constraints), `feed`.
"""

from envs.core.registry import register_env
from envs.core.spec import ViewSpec
from envs.recommendation.dialogue_params import DialogueParams
from envs.recommendation.feed_params import FeedParams
from envs.recommendation.metrics import DIALOGUE_METRICS, FEED_METRICS

register_env(
    "RecDialogue-v0",
    kind="aec",
    entry_point="envs.recommendation.dialogue:env",
    family="recommendation",
    summary="A recommender talks with a simulated user who wants one item (CRS evaluation)",
    params=DialogueParams,
    protocol="envs.recommendation.dialogue_protocol:DialogueProtocol",
    metrics=DIALOGUE_METRICS,
    views=(
        ViewSpec(
            "RecDialogue-Recommender-v0",
            "recommender_0",
            {"user": "dialogue/agenda"},
            {"n_items": 1000},
        ),
    ),
)
register_env(
    "RecFeed-v0",
    kind="aec",
    entry_point="envs.recommendation.feed:env",
    family="recommendation",
    summary="A feed of slates; the user clicks, skips or commands; clicks vs satisfaction",
    params=FeedParams,
    protocol="envs.recommendation.feed_protocol:FeedProtocol",
    metrics=FEED_METRICS,
    views=(ViewSpec("RecFeed-Recommender-v0", "recommender_0", {"user": "feed/user"}),),
)
