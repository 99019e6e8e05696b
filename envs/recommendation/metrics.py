"""What the recommendation envs' final ``info["metrics"]`` hold: metric name -> one line of meaning.

Registration passes these to `EnvSpec.metrics` (`envs.recommendation.__init__`); the values come
from `dialogue.raw_env._metrics` and `feed.raw_env.metrics`. Undefined values are None.
"""

from __future__ import annotations

from collections.abc import Mapping

DIALOGUE_METRICS: Mapping[str, str] = {
    "success": "1 if the user accepted its target item, else 0",
    "turns": "turns played (a recommender move and the user's reply each)",
    "turns_to_success": "the turn in which the user accepted its target; None without success",
    "sr_at_<t>": "1 if the user accepted its target by turn <t>, for t = 1 .. max_turns",
    "recall_retrieved": "1 if the target appeared in a search's results (Recall@search_size)",
    "recall_recommended": "1 if the target was ever recommended (Recall@recommend_size)",
    "rating_recommendation": (
        "mean 0..5 rating, over the user's replies, of how well the recommended items fit; None "
        "without a reply"
    ),
    "rating_strategy": (
        "mean 0..5 rating, over the user's replies, of how well the recommender's move suited the "
        "moment; None without a reply"
    ),
    "rating_expression": (
        "mean 0..5 rating, over the user's replies, of how clear and helpful the recommender's "
        "words were; None without a reply"
    ),
    "asks": "times the recommender asked about a feature",
    "searches": "catalog searches the recommender made",
    "recommendations": "recommend moves (each a list of up to recommend_size items)",
    "quit": "1 if the user quit, else 0",
    "accepted_wrong": "1 if the user accepted an item that is not its target, else 0",
    "leaks": "user utterances that named the target's title (redacted before delivery)",
}
"""`mercato/RecDialogue-v0`; ``sr_at_<t>`` is a pattern: one key per turn up to `max_turns`."""

FEED_METRICS: Mapping[str, str] = {
    "clicks": "items the user clicked",
    "click_rate": "clicks per step, 0..1",
    "initial_satisfaction": "the user's latent satisfaction at the start (the parameter), 0..1",
    "final_satisfaction": "the user's latent satisfaction at the end, 0..1",
    "mean_satisfaction": "mean latent satisfaction after each step, 0..1; 0 without steps",
    "mean_quality_clicked": "mean quality (0..1) of the clicked items; 0 without clicks",
    "command_count": "commands the user issued in words",
    "commands_understood": "commands the parser turned into a constraint",
    "commands_judged": "understood commands followed by a slate",
    "commands_honoured": "judged commands whose next slate honoured them",
    "command_satisfaction_rate": (
        "commands_honoured / commands_judged, 0..1; 1 when none was judged"
    ),
    "violation_rate": "share of slates showing an item against a standing request, 0..1",
    "churned": "1 if the user churned (left, fell below churn_threshold, or the hazard fired)",
    "left": "1 if the user chose to leave, else 0",
    "steps": "user responses (steps) played",
}
"""`mercato/RecFeed-v0`."""
