"""The wording of the trial's text views, kept under its old name: the views themselves are
rendered by the protocol from the structured observation (`envs.trials.protocol_views`)."""

from envs.trials.protocol_views import (
    AGENT_BRIEFS,
    CONFIDENCE_SCALE,
    FAMILIARITY_SCALE,
    OPTION_SCALE,
    SATISFACTION_SCALE,
    TRAIT_WORDS,
)

__all__ = [
    "AGENT_BRIEFS",
    "CONFIDENCE_SCALE",
    "FAMILIARITY_SCALE",
    "OPTION_SCALE",
    "SATISFACTION_SCALE",
    "TRAIT_WORDS",
]
