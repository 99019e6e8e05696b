"""Grammar-constrained decoding: each row of a batch may only emit what its JSON Schema admits.

`SchemaGrammars` compiles JSON Schemas for one tokenizer (with llguidance) and keeps the compiled
grammars in a bounded LRU cache, keyed by the schema's JSON; `RowMatchers` holds one matcher per
row of a batch (None for rows without a schema) and, at every decoding step, masks each
constrained row's logits to the tokens its grammar allows next, then advances it with the token
the row chose. A row whose grammar is complete (its JSON object closed) is ended at once.

Replies are compact JSON: no whitespace between tokens and ``,``/``:`` separators, so a small model
cannot run away in whitespace; only a string's own content may hold spaces, up to its
``maxLength``. Nor can it run away in digits: a number gets at most `NUMBER_DECIMALS` decimals and
a number or integer without bounds gets ``±NUMBER_LIMIT`` (the reply still satisfies the schema as
given: these only narrow what it may say). llguidance enforces ``enum``, closed objects,
``anyOf``, numeric ``minimum`` and ``maximum``, ``maxLength`` and ``minItems``/``maxItems``.

Replies also fit their token budget: a string's ``maxLength`` counts characters, not tokens, so a
small model that rambles in a message would run out of ``max_tokens`` mid-JSON. In a row's last
`wrap_up_tokens` tokens, wherever its grammar allows a token made only of JSON punctuation, only
those are allowed, and of those the ones that start with a quote first (inside a string, ``,`` or
``}`` are just text; a quote closes it): the open string or number ends and the rest of the object
is written as briefly as the grammar permits.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import numpy as np

JSON_OPTIONS = {"whitespace_flexible": False, "item_separator": ",", "key_separator": ":"}
"""llguidance JSON options, applied over any ``x-guidance`` of a schema: compact JSON."""

NUMBER_DECIMALS = 6
"""The most decimals a constrained number may have (a sampling 135M model otherwise writes digits
until ``max_tokens``)."""

NUMBER_LIMIT = 10**15
"""The bounds given to a number or integer that has none (same reason)."""

_NOT_SCHEMAS = frozenset({"enum", "const", "default", "examples", "required"})
"""Keywords whose values are data, not subschemas."""

_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
"""Keywords whose values map names to subschemas."""

GRAMMAR_CACHE_SIZE = 256
"""Compiled schemas kept (least recently used dropped first)."""

JSON_PUNCTUATION = frozenset('"{}[],:')
"""Characters of the tokens that close what is open in a JSON reply."""


def wrap_up_tokens(max_tokens: int) -> int:
    """How many of a reply's last tokens are spent closing its JSON (half the budget, 12-40)."""
    return min(40, max(12, max_tokens // 2))


class SchemaError(ValueError):
    """A schema the grammar engine cannot compile (unknown type, unsupported keyword, ...)."""


def bounded_numbers(schema: Any) -> Any:
    """``schema`` with every number limited to `NUMBER_DECIMALS` decimals (a ``multipleOf``) and
    every number or integer without bounds given ``±NUMBER_LIMIT``; a copy, the input is kept."""
    if isinstance(schema, list):
        return [bounded_numbers(s) for s in schema]
    if not isinstance(schema, Mapping):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS and isinstance(value, Mapping):
            out[key] = {name: bounded_numbers(sub) for name, sub in value.items()}
        else:
            out[key] = value if key in _NOT_SCHEMAS else bounded_numbers(value)
    kinds = out.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds} if isinstance(kinds, str) else set()
    if "number" in kinds and "multipleOf" not in out:
        out["multipleOf"] = 10.0**-NUMBER_DECIMALS
    if kinds & {"number", "integer"}:
        if "minimum" not in out and "exclusiveMinimum" not in out:
            out["minimum"] = -NUMBER_LIMIT
        if "maximum" not in out and "exclusiveMaximum" not in out:
            out["maximum"] = NUMBER_LIMIT
    return out


def schema_key(schema: Mapping[str, Any]) -> str:
    """The schema's JSON: its cache key. Keys keep their order (not sorted): property order is
    the order in which the reply writes them, so reordered schemas are different grammars."""
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)


class SchemaGrammars:
    """Compiles JSON Schemas to llguidance grammars for one tokenizer, each distinct schema once.

    ``vocab_size`` is the width of the model's logits (may exceed the tokenizer's vocabulary);
    ``eos_token_id`` the token a complete reply may end with. Building the tokenizer's token
    tables takes about half a second, so it happens on first use.
    """

    def __init__(
        self,
        tokenizer: Any,
        vocab_size: int,
        eos_token_id: int,
        cache_size: int = GRAMMAR_CACHE_SIZE,
    ) -> None:
        import llguidance
        import llguidance.hf

        self.vocab_size = vocab_size
        self.eos_token_id = eos_token_id
        self.cache_size = cache_size
        self.compiled = 0
        """How many schemas were compiled (cache misses)."""
        self._llguidance = llguidance
        self._tokenizer = llguidance.hf.from_tokenizer(
            tokenizer, n_vocab=vocab_size, eos_token=eos_token_id
        )
        self.executor = llguidance.LLExecutor(num_threads=1)
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.closers = _punctuation_tokens(tokenizer, vocab_size)
        """Tokens made only of `JSON_PUNCTUATION`, best first: those that start with a quote,
        then all of them (boolean masks over the logits)."""

    def check(self, schema: Mapping[str, Any]) -> str | None:
        """Why ``schema`` cannot be compiled, or None when it can (compiling and caching it)."""
        try:
            self._compiled(schema)
        except SchemaError as error:
            return str(error)
        return None

    def matcher(self, schema: Mapping[str, Any]) -> Any:
        """A fresh matcher for ``schema``; raises `SchemaError` when it cannot be compiled."""
        return self._compiled(schema).deep_copy()

    def rows(
        self,
        schemas: Sequence[Mapping[str, Any] | None],
        end_ids: Collection[int],
        budgets: Sequence[int] | None = None,
    ) -> RowMatchers:
        """Matchers for a batch: one per row with a schema, None for free-text rows.
        ``budgets`` are the rows' ``max_tokens`` (for wrapping up in time)."""
        matchers = [None if s is None else self.matcher(s) for s in schemas]
        return RowMatchers(matchers, self, end_ids, budgets)

    def _compiled(self, schema: Mapping[str, Any]) -> Any:
        """The cached prototype matcher of ``schema`` (rows get copies), compiled on a miss."""
        key = schema_key(schema)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
        if hit is None:
            hit = self._compile(schema)
            with self._lock:
                self._cache[key] = hit
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        if isinstance(hit, str):
            raise SchemaError(hit)
        return hit

    def _compile(self, schema: Mapping[str, Any]) -> Any:
        """A prototype matcher, or the error message (cached too: a bad schema fails fast).

        The schema is compiled with `bounded_numbers`; as given when that leaves nothing to say
        (bounds closer than the decimals allow)."""
        self.compiled += 1
        error = ""
        for form in (bounded_numbers(schema), dict(schema)):
            matcher = self._matcher(form)
            if not isinstance(matcher, str):
                return matcher
            error = error or matcher
        return error

    def _matcher(self, schema: Mapping[str, Any]) -> Any:
        matcher_class = self._llguidance.LLMatcher
        try:
            grammar = matcher_class.grammar_from_json_schema(schema, overrides=JSON_OPTIONS)
        except (ValueError, TypeError) as error:
            return f"schema: {error}"
        matcher = matcher_class(self._tokenizer, grammar, log_level=0)
        if matcher.is_error():
            return f"schema: {matcher.get_error()}"
        return matcher


class RowMatchers:
    """The grammar state of every row of one batched ``generate``.

    Call it as a logits processor (``(input_ids, scores) -> scores``): it sets the logits of
    tokens a constrained row may not emit next to ``-inf``, before sampling. After each step,
    `advance` feeds a row the token it chose; it returns True when the row is done (its grammar
    complete or an end token chosen). Rows that ended for another reason are `finish`-ed so they
    are no longer masked. ``complete[row]`` says whether a row's reply satisfies its grammar,
    ``errors[row]`` holds a matcher failure (the row then goes on unconstrained and is ended).
    """

    def __init__(
        self,
        matchers: Sequence[Any],
        grammars: SchemaGrammars,
        end_ids: Collection[int],
        budgets: Sequence[int] | None = None,
    ) -> None:
        import torch

        self.matchers = list(matchers)
        self.budgets = list(budgets) if budgets is not None else [None] * len(self.matchers)
        self.step = 0
        """Tokens generated so far (the logits processor is called once per step)."""
        self.end_ids = frozenset(end_ids)
        self.complete = [False] * len(self.matchers)
        self.errors: list[str | None] = [None] * len(self.matchers)
        self._active = [m is not None for m in self.matchers]
        self._grammars = grammars
        self._vocab = grammars.vocab_size
        words = (self._vocab + 31) // 32
        self._bitmask = torch.full((max(1, sum(self._active)), words), -1, dtype=torch.int32)

    def constrained(self, row: int) -> bool:
        """Whether ``row`` has a schema."""
        return self.matchers[row] is not None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch
        from llguidance.torch import fill_next_token_bitmask_par

        rows = [r for r, active in enumerate(self._active) if active]
        if not rows:
            return scores
        bitmask = self._bitmask[: len(rows)]
        fill_next_token_bitmask_par(
            self._grammars.executor, [(self.matchers[r], i) for i, r in enumerate(rows)], bitmask
        )
        allowed = _unpack(bitmask.numpy(), self._vocab)
        for i, r in enumerate(rows):
            if self.matchers[r].is_error() or not allowed[i].any():
                self._fail(r)
                allowed[i] = True
            elif self._wrapping_up(r):
                for closers in self._grammars.closers:
                    closing = allowed[i] & closers
                    if closing.any():
                        allowed[i] = closing
                        break
        self.step += 1
        allowed = _fit(torch.from_numpy(allowed), scores.shape[-1]).to(scores.device)
        if len(rows) == scores.shape[0]:
            return scores.masked_fill_(~allowed, float("-inf"))
        index = torch.tensor(rows, device=scores.device)
        scores[index] = scores[index].masked_fill(~allowed, float("-inf"))
        return scores

    def _wrapping_up(self, row: int) -> bool:
        budget = self.budgets[row]
        return budget is not None and budget - self.step <= wrap_up_tokens(budget)

    def advance(self, row: int, token: int) -> bool:
        """Feed ``row`` the token it chose; True when the row is done."""
        if not self._active[row]:
            return self.errors[row] is not None
        matcher = self.matchers[row]
        if token in self.end_ids:
            self.complete[row] = matcher.is_accepting()
            self._active[row] = False
            return True
        if not matcher.consume_token(token):
            self._fail(row)
            return True
        if matcher.is_stopped():  # nothing may follow but the end token: the reply is whole
            self.complete[row] = matcher.is_accepting()
            self._active[row] = False
            return True
        return False

    def finish(self, row: int) -> None:
        """``row`` ended (its own length or stop string): stop masking it."""
        self._active[row] = False

    def _fail(self, row: int) -> None:
        self.errors[row] = f"grammar: {self.matchers[row].get_error() or 'no token allowed'}"
        self._active[row] = False


def _unpack(bitmask: np.ndarray, vocab: int) -> np.ndarray:
    """An int32 token bitmask (bit ``t % 32`` of word ``t // 32`` set: token t allowed) as a
    boolean array, one column per token."""
    little_endian = bitmask.astype("<i4", copy=False)  # a no-op on little-endian machines
    bits = np.unpackbits(little_endian.view(np.uint8), axis=-1, bitorder="little")
    return bits[:, :vocab].astype(bool)


def _punctuation_tokens(tokenizer: Any, vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks of the tokens made only of `JSON_PUNCTUATION`: those starting with a quote,
    and all of them."""
    quoted = np.zeros(vocab_size, dtype=bool)
    punctuation = np.zeros(vocab_size, dtype=bool)
    for token_id in range(min(vocab_size, len(tokenizer))):
        text = tokenizer.decode([token_id])
        punctuation[token_id] = bool(text) and set(text) <= JSON_PUNCTUATION
        quoted[token_id] = punctuation[token_id] and text.startswith('"')
    return quoted, punctuation


def _fit(allowed: Any, width: int) -> Any:
    """``allowed`` cut or padded (with disallowed columns) to ``width`` tokens."""
    if allowed.shape[-1] >= width:
        return allowed[:, :width]
    import torch

    pad = torch.zeros((allowed.shape[0], width - allowed.shape[-1]), dtype=torch.bool)
    return torch.cat([allowed, pad], dim=1)
