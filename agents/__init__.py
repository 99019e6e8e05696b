"""mercato's actors: policies that map observations to actions."""

import agents.scripted  # noqa: F401  (registers the scripted players)
from agents.base import BatchPolicy, HumanPolicy, Policy, RandomPolicy
from agents.llm import DecisionRecord, LLMPolicy

__all__ = ["BatchPolicy", "DecisionRecord", "HumanPolicy", "LLMPolicy", "Policy", "RandomPolicy"]
