"""The language-model layer: one batched interface, backends (local, openai, fake), wrappers."""

from sim.llm.errors import (
    BudgetExceededError,
    EndpointError,
    InvalidRequestError,
    LLMError,
    ModelNotFoundError,
    TransientLLMError,
    UnknownModelSpecError,
)
from sim.llm.spec import make_model
from sim.llm.types import (
    Choice,
    ChooseRequest,
    Completion,
    GenerateRequest,
    LanguageModel,
    Usage,
)

__all__ = [
    "BudgetExceededError",
    "Choice",
    "ChooseRequest",
    "Completion",
    "EndpointError",
    "GenerateRequest",
    "InvalidRequestError",
    "LLMError",
    "LanguageModel",
    "ModelNotFoundError",
    "TransientLLMError",
    "UnknownModelSpecError",
    "Usage",
    "make_model",
]
