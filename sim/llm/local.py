"""The `local` backend: a transformers causal LM on CPU or CUDA, batched.

``generate`` runs one left-padded ``model.generate`` per chunk of requests. Per-request temperature
and seed are honoured inside the batch by a logits processor that samples each row from its own
seeded generator; per-request ``max_tokens`` and ``stop`` by a per-row stopping criterion.
Requests with a ``schema`` are decoded under their grammar (`sim.llm.grammar`): each row's logits
are masked to the tokens its JSON Schema allows, before sampling, so the reply is schema-valid JSON
(or cut at ``max_tokens``, finish reason ``length``).
``choose`` scores every option by its mean log-likelihood per token (over the option's tokens and
the end token), so a long option is not ranked below a short one for its length alone (a summed
log-likelihood favours the shortest option). Each prompt runs once, its options together in one
row on top of its cached keys and values (`PackedOptions`: a custom attention mask, so every layer
must see the whole prompt; sliding-window layers shorter than a prompt are not supported). A prompt
that a recent ``generate`` already ran (the same messages) is not run again: ``generate`` keeps its
prompts' keys and values in a bounded `PromptStore`.
"""

from __future__ import annotations

import copy
import os
import random
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.llm.grammar import SchemaGrammars
from sim.llm.local_batch import (
    MIN_SHARED_PREFIX,
    RowSampler,
    RowStopper,
    cut_at_stop,
    option_chunks,
    positions,
    shared_prefix_length,
)
from sim.llm.model_store import DEFAULT_MODEL, require_model
from sim.llm.prompt_states import (
    OptionLoglik,
    PackedOptions,
    PromptStates,
    PromptStore,
    grows_by_concatenation,
)
from sim.llm.types import (
    BaseLanguageModel,
    Choice,
    ChooseRequest,
    Completion,
    GenerateRequest,
    Usage,
    as_choose_requests,
)


def default_threads() -> int:
    """Torch threads: ``$MERCATO_TORCH_THREADS``, else half the usable cores (1 of 2), at most 8.

    Decoding a small model is memory-bound: a second thread gains under 10 % on a quiet machine and
    loses 2.5x when the other core is busy (e.g. stepping environments), so we leave one free.
    """
    if os.environ.get("MERCATO_TORCH_THREADS"):
        return max(1, int(os.environ["MERCATO_TORCH_THREADS"]))
    return max(1, min(8, len(os.sched_getaffinity(0)) // 2))


STRUCTURED_MODES = {"grammar": "grammar", "json_schema": "grammar", "off": "off"}
"""Accepted ``structured`` values and the mode each means."""


def _chunks(order: Sequence[int], size: int) -> list[list[int]]:
    return [list(order[i : i + size]) for i in range(0, len(order), size)]


class LocalModel(BaseLanguageModel):
    """A local Hugging Face causal LM (default: the bundled SmolLM2-135M-Instruct).

    ``path`` is a bundled model name or a transformers folder. ``device`` is ``"auto"`` (CUDA when
    available), ``"cpu"`` or ``"cuda[:n]"``; ``dtype`` ``"auto"`` is fp32 on CPU and bf16 on CUDA.
    ``max_batch_size`` caps the rows per forward pass (default 32 on CPU, 256 on CUDA).
    ``structured`` is ``"grammar"`` (``"json_schema"`` means the same): a request's ``schema`` is
    enforced while decoding; or ``"off"``: schemas are ignored and replies are free text.
    ``prompt_store_mb`` bounds the prompt keys and values kept from ``generate`` for a later
    ``choose`` on the same prompts (default 1024 on CPU, a tenth of the GPU's memory on CUDA; 0
    keeps none).
    """

    backend = "local"

    def __init__(
        self,
        path: str | Path = DEFAULT_MODEL,
        device: str = "auto",
        dtype: str = "auto",
        threads: int | None = None,
        max_batch_size: int | None = None,
        seed: int = 0,
        structured: str = "grammar",
        prompt_store_mb: float | None = None,
    ) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
            from transformers.utils import logging as hf_logging
        except ModuleNotFoundError as missing:
            raise ModuleNotFoundError(
                f"the local model needs the llm extra ({missing.name} is missing): "
                "pip install 'mercato[llm]'",
                name=missing.name,
            ) from None

        if structured not in STRUCTURED_MODES:
            raise ValueError(f"structured: {structured!r} is not one of {sorted(STRUCTURED_MODES)}")
        self.structured = STRUCTURED_MODES[structured]
        folder = require_model(path)
        hf_logging.disable_progress_bar()  # a one-second load needs no progress bar on stderr
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        on_gpu = self.device.type == "cuda"
        if dtype == "auto":
            dtype = "bfloat16" if on_gpu else "float32"
        if self.device.type == "cpu":
            torch.set_num_threads(threads or default_threads())
        self.max_batch_size = max_batch_size or (256 if on_gpu else 32)
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype))
        self.model.to(self.device).eval()
        self.model_id = folder.name
        self._torch = torch
        self._seeds = random.Random(seed)
        self._eos_ids = self._end_token_ids()
        self._grammars: SchemaGrammars | None = None
        if prompt_store_mb is None:
            total = torch.cuda.get_device_properties(self.device).total_memory if on_gpu else 0
            store_bytes = total // 10 if on_gpu else 1024 * 2**20
        else:
            store_bytes = int(prompt_store_mb * 2**20)
        self.prompt_store = PromptStore(store_bytes)

    @property
    def grammars(self) -> SchemaGrammars:
        """The schema compiler for this model's tokenizer (built on first use)."""
        if self._grammars is None:
            vocab = self.model.get_output_embeddings().weight.shape[0]
            self._grammars = SchemaGrammars(self.tokenizer, vocab, self.tokenizer.eos_token_id)
        return self._grammars

    def _end_token_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = set(ids if isinstance(ids, list) else [ids]) if ids is not None else set()
        ids.add(self.tokenizer.eos_token_id)
        return {i for i in ids if i is not None}

    def _prompt(self, messages: Sequence[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )

    def _shared_prefix(self, rows: list[list[int]]) -> tuple[int, Any]:
        """The token prefix common to ``rows`` (0 when too short to pay) and its key/value cache
        for one row, computed once."""
        shared = shared_prefix_length(rows) if len(rows) > 1 else 0
        if shared < MIN_SHARED_PREFIX:
            return 0, None
        with self._torch.inference_mode():
            prefix = self._torch.tensor([rows[0][:shared]], device=self.device)
            return shared, self.model(input_ids=prefix, use_cache=True, logits_to_keep=1).cache

    def _shared_prefix_batch(
        self, rows: list[list[int]], prefix: tuple[int, Any] | None = None
    ) -> tuple[Any, Any, Any, int]:
        """Token rows as one batch whose common prefix is computed once.

        Rows of one batch usually share a long prefix (chat template, role prompt, rules), so the
        prefix runs once and its key/value cache is copied to every row; each row is laid out as
        prefix, padding, own suffix, with the padding masked out (positions follow the mask). On
        CPU, where prompt processing is compute-bound, this is most of a batch's prefill.
        ``prefix`` is a `_shared_prefix` of a superset of ``rows``, to reuse across batches.
        Returns ``(input_ids, attention_mask, prefix_cache or None, prefix_length)``.
        """
        torch = self._torch
        pad = self.tokenizer.pad_token_id
        shared, one_row = prefix if prefix is not None else self._shared_prefix(rows)
        suffixes = [row[shared:] for row in rows]
        width = max(len(s) for s in suffixes)
        head = rows[0][:shared]
        ids = torch.tensor(
            [head + [pad] * (width - len(s)) + s for s in suffixes], device=self.device
        )
        mask = torch.tensor(
            [[1] * shared + [0] * (width - len(s)) + [1] * len(s) for s in suffixes],
            device=self.device,
        )
        cache = None
        if one_row is not None:
            cache = copy.deepcopy(one_row)  # the batch appends to it; the original is reused
            cache.batch_repeat_interleave(len(rows))
        return ids, mask, cache, shared

    def _prefill(
        self, rows: list[list[int]], prefix: tuple[int, Any] | None = None
    ) -> tuple[Any, Any, Any]:
        """Token rows as a left-padded batch (see `_shared_prefix_batch`) with every column but
        the last already run. Returns ``(input_ids, attention_mask, cache)``; the cache covers all
        columns but the last (None only for one-token rows), the form ``model.generate`` continues
        from and the prompt states `choose` scores on."""
        ids, mask, cache, shared = self._shared_prefix_batch(rows, prefix)
        if ids.shape[1] - 1 > shared:
            with self._torch.inference_mode():
                cache = self.model(
                    input_ids=ids[:, shared:-1],
                    attention_mask=mask[:, :-1],
                    position_ids=positions(mask)[:, shared:-1],
                    use_cache=True,
                    logits_to_keep=1,
                    **({"cache": cache} if cache is not None else {}),
                ).cache
        return ids, mask, cache

    # ---------------------------------------------------------------- generate

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        results: list[Completion | None] = [None] * len(requests)
        for i, error in enumerate(self._schema_errors(requests)):
            if error is not None:
                usage = Usage(0, 0, 0.0, self.backend, self.model_id, structured=self.structured)
                results[i] = Completion("", usage, error=error)
        prompts = [self._prompt(r.messages) for r in requests]
        todo = [i for i in range(len(requests)) if results[i] is None]
        order = sorted(todo, key=lambda i: len(prompts[i]))
        for chunk in _chunks(order, self.max_batch_size):
            for i, completion in zip(
                chunk,
                self._generate_chunk([requests[i] for i in chunk], [prompts[i] for i in chunk]),
                strict=True,
            ):
                results[i] = completion
        return results  # type: ignore[return-value]

    def _schema(self, request: GenerateRequest) -> dict[str, Any] | None:
        """The schema this backend enforces for ``request`` (None: free text)."""
        return request.schema if self.structured != "off" else None

    def _schema_errors(self, requests: list[GenerateRequest]) -> list[str | None]:
        """Per request, why its schema cannot be enforced (None: it can, or it has none)."""
        if not any(self._schema(r) for r in requests):
            return [None] * len(requests)
        return [
            None if (s := self._schema(r)) is None else self.grammars.check(s) for r in requests
        ]

    def _generate_chunk(
        self, requests: list[GenerateRequest], prompts: list[str]
    ) -> list[Completion]:
        from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

        torch = self._torch
        started = time.perf_counter()
        rows = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        ids, mask, cache = self._prefill(rows)
        if cache is not None and grows_by_concatenation(cache):
            self.prompt_store.put(rows, PromptStates.of(cache, ids, mask))
        prompt_len = ids.shape[1]
        seeds = [r.seed if r.seed is not None else self._seeds.getrandbits(63) for r in requests]
        sampler = RowSampler([r.temperature for r in requests], seeds, self.device)
        schemas = [self._schema(r) for r in requests]
        budgets = [r.max_tokens for r in requests]
        grammar = self.grammars.rows(schemas, self._eos_ids, budgets) if any(schemas) else None
        stopper = RowStopper(prompt_len, requests, self.tokenizer, grammar)
        config = GenerationConfig(
            max_new_tokens=max(r.max_tokens for r in requests),
            do_sample=False,
            eos_token_id=sorted(self._eos_ids),
            pad_token_id=self.tokenizer.pad_token_id,
        )
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                **({"cache": cache} if cache is not None else {}),
                generation_config=config,
                logits_processor=LogitsProcessorList([p for p in (grammar, sampler) if p]),
                stopping_criteria=StoppingCriteriaList([stopper]),
            )
        latency = time.perf_counter() - started
        new_tokens = out[:, prompt_len:].tolist()
        prompt_counts = [len(row) for row in rows]
        completions = []
        for row, r in enumerate(requests):
            tokens, ended_by_eos = self._row_tokens(new_tokens[row], stopper.done_at[row])
            text = self.tokenizer.decode(tokens, skip_special_tokens=True)
            text, hit_stop = cut_at_stop(text, r.stop)
            complete = grammar is not None and grammar.complete[row]
            finish = "stop" if ended_by_eos or hit_stop or complete else "length"
            count = len(tokens) + int(ended_by_eos)
            mode = "grammar" if schemas[row] is not None else "off"
            usage = Usage(
                int(prompt_counts[row]),
                count,
                latency,
                self.backend,
                self.model_id,
                structured=mode,
            )
            error = grammar.errors[row] if grammar is not None else None
            completions.append(Completion("" if error else text, usage, finish, error=error))
        return completions

    def _row_tokens(self, tokens: list[int], done_at: int | None) -> tuple[list[int], bool]:
        """The tokens a row generated before it ended, and whether it ended on an end token."""
        limit = done_at if done_at is not None else len(tokens)
        for j, token in enumerate(tokens[:limit]):
            if token in self._eos_ids:
                return tokens[:j], True
        return tokens[:limit], False

    # ------------------------------------------------------------------ choose

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        started = time.perf_counter()
        scored = self._score_requests(requests)
        latency = time.perf_counter() - started
        choices = []
        for r, (logliks, prompt_run) in zip(requests, scored, strict=True):
            scores = tuple(loglik.mean for loglik in logliks)
            best = max(range(len(r.options)), key=lambda k: (scores[k], -k))
            tokens = prompt_run + sum(loglik.tokens for loglik in logliks)
            usage = Usage(tokens, 0, latency, self.backend, self.model_id)
            choices.append(Choice(best, r.options[best], usage, "loglik", scores))
        return choices

    def option_logliks(
        self, requests: Sequence[ChooseRequest | Mapping[str, Any]]
    ) -> list[list[OptionLoglik]]:
        """Per request, each option's summed log-likelihood and token count, in option order:
        what `choose` ranks options by (their `OptionLoglik.mean`)."""
        typed = as_choose_requests(requests)
        return [logliks for logliks, _ in self._score_requests(typed)] if typed else []

    def _score_requests(
        self, requests: list[ChooseRequest]
    ) -> list[tuple[list[OptionLoglik], int]]:
        """Per request, its options' log-likelihoods and the prompt tokens run for it (1, its last
        token, when its prompt's states came from the `PromptStore`)."""
        prompts = [
            self.tokenizer(self._prompt(r.messages), add_special_tokens=False)["input_ids"]
            for r in requests
        ]
        end = self.tokenizer.eos_token_id
        options = [
            [self.tokenizer(o, add_special_tokens=False)["input_ids"] + [end] for o in r.options]
            for r in requests
        ]
        stored = [self.prompt_store.get(p) for p in prompts]
        fresh = [p for p, found in zip(prompts, stored, strict=True) if found is None]
        prefix = self._shared_prefix(fresh)  # once for all requests, reused by every chunk
        logliks: list[list[OptionLoglik]] = []
        for chunk in option_chunks([len(r.options) for r in requests], self.max_batch_size):
            logliks.extend(
                self._score(
                    [prompts[i] for i in chunk],
                    [stored[i] for i in chunk],
                    [options[i] for i in chunk],
                    prefix,
                )
            )
        prompt_run = [1 if found else len(p) for p, found in zip(prompts, stored, strict=True)]
        return list(zip(logliks, prompt_run, strict=True))

    def _prompt_states(
        self,
        prompts: list[list[int]],
        stored: list[tuple[PromptStates, int] | None],
        prefix: tuple[int, Any],
    ) -> tuple[Any, Any, Any]:
        """The chunk's prompts as ``(cache, mask, last)``, rows in prompt order: the cache covers
        every prompt token but the last (see `PromptStates`). Prompts without stored states are
        prefilled; with stored ones, all rows are gathered into one left-padded batch."""
        fresh = [k for k, found in enumerate(stored) if found is None]
        parts: list[PromptStates] = []
        order: list[int] = []  # the prompt index of each row of the gathered batch
        if fresh:
            ids, mask, cache = self._prefill([prompts[k] for k in fresh], prefix)
            if len(fresh) == len(prompts):
                return cache, mask[:, :-1], ids[:, -1]
            parts.append(PromptStates.of(cache, ids, mask))
            order.extend(fresh)
        batches: dict[int, tuple[PromptStates, list[int], list[int]]] = {}
        for k, found in enumerate(stored):
            if found is not None:
                states, row = found
                _, rows, owners = batches.setdefault(id(states), (states, [], []))
                rows.append(row)
                owners.append(k)
        for states, rows, owners in batches.values():
            parts.append(states.select(self._torch.tensor(rows, device=self.device)))
            order.extend(owners)
        where = [0] * len(prompts)
        for position, k in enumerate(order):
            where[k] = position
        gathered = PromptStates.stack(parts).select(self._torch.tensor(where, device=self.device))
        return gathered.cache(), gathered.mask, gathered.last

    def _score(
        self,
        prompts: list[list[int]],
        stored: list[tuple[PromptStates, int] | None],
        options: list[list[list[int]]],
        prefix: tuple[int, Any],
    ) -> list[list[OptionLoglik]]:
        """Log-likelihood of each option (its tokens plus the end token) after its prompt.

        Each prompt's row runs its last token and then all its options one after another on top
        of the prompt's states, each option masked to see only the prompt and itself, positioned
        right after the prompt (see `PackedOptions`). So a choice among N options costs at most
        one prompt plus the options' tokens, and no prompt states are copied per option.
        """
        torch = self._torch
        cache, mask, last = self._prompt_states(prompts, stored, prefix)
        packed = PackedOptions.of(options, self.tokenizer.pad_token_id)
        on = {"device": self.device}
        inputs = torch.cat([last.unsqueeze(1), torch.tensor(packed.tokens, **on)], dim=1)
        offsets = torch.tensor(packed.offsets, **on)
        with torch.inference_mode():
            logits = self.model(
                input_ids=inputs,
                attention_mask=packed.attention(mask, self.model.dtype),
                position_ids=mask.sum(dim=1, keepdim=True) + offsets,
                **({"cache": cache} if cache is not None else {}),
            ).logits
        rows, before, tokens, owner = torch.tensor(packed.targets, **on).T
        logprobs = torch.log_softmax(logits[rows, before].float(), dim=-1)
        picked = logprobs.gather(1, tokens.unsqueeze(1)).squeeze(1)
        totals = torch.zeros(len(packed.counts), **on).index_add_(0, owner, picked).tolist()
        scores: list[list[OptionLoglik]] = [[] for _ in prompts]
        for r, total, count in zip(packed.option_rows, totals, packed.counts, strict=True):
            scores[r].append(OptionLoglik(total, count))
        return scores

    def close(self) -> None:
        self.model = None
        self.tokenizer = None
        self.prompt_store.clear()
