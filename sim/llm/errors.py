"""Errors raised by the language-model layer, each with a one-line message that says what to do."""

from __future__ import annotations


class LLMError(RuntimeError):
    """Base class of every language-model failure; policies catch it to fall back safely."""


class TransientLLMError(LLMError):
    """A failure worth retrying (rate limit, server error, timeout, malformed body)."""


class EndpointError(LLMError):
    """An OpenAI-compatible endpoint failed for good: retries spent, or a non-retryable status."""


class ModelNotFoundError(LLMError):
    """A local model folder is missing or incomplete."""


class UnknownModelSpecError(LLMError, ValueError):
    """A model spec names no known backend, or has malformed fields."""


class BudgetExceededError(LLMError):
    """A call or token budget would be exceeded by the next call."""


class InvalidRequestError(LLMError, ValueError):
    """A request is malformed (missing messages, bad field values, no options to choose from)."""
