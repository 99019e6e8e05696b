"""Shared building blocks of mercato's environments: the parameter model, spaces, text protocol,
seeding, the registry and its EnvSpec, docstring template and conformance checks."""

from envs.core.checks import assert_episodes_identical, check_aec_env, check_parallel_env
from envs.core.docstring import ENV_DOC_SECTIONS, ENV_DOCSTRING_TEMPLATE, missing_doc_sections
from envs.core.params import Params
from envs.core.protocol import ActionParseError, TextProtocol, ValidAction, action_mask_of
from envs.core.registry import EnvSpec, list_envs, make_env, register_env, spec_of
from envs.core.seeding import child_rng, derive_seed, make_rng, stable_hash
from envs.core.spaces import FreeText, normalize_text

__all__ = [
    "ENV_DOCSTRING_TEMPLATE",
    "ENV_DOC_SECTIONS",
    "ActionParseError",
    "EnvSpec",
    "FreeText",
    "Params",
    "TextProtocol",
    "ValidAction",
    "action_mask_of",
    "assert_episodes_identical",
    "check_aec_env",
    "check_parallel_env",
    "child_rng",
    "derive_seed",
    "list_envs",
    "make_env",
    "make_rng",
    "missing_doc_sections",
    "normalize_text",
    "register_env",
    "spec_of",
    "stable_hash",
]
