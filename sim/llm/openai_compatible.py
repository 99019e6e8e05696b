"""A backend for any OpenAI-compatible chat-completions server (vLLM, Ollama, llama.cpp, OpenAI).

Batches are sent from a thread pool over one shared `httpx.Client` rather than with asyncio, so the
model works the same inside Jupyter's running event loop. Each request stands alone: one that fails
for good comes back as a `Completion` with ``error`` set (a `Choice` with method ``"fallback"``)
while the rest of its batch is parsed normally; only whole-call problems raise (a closed model, an
invalid request, a missing API key, a server that rejects the structured request form).

Transport, deadlines, retries and the overload pause: `sim.llm.openai_http`. The constrained
choice: `sim.llm.openai_choice`. Secrets never appear in messages, logs or reprs
(`sim.llm.redact`). Where the key goes: ``api_key_env=None`` sends ``$OPENAI_API_KEY`` only to
``api.openai.com`` and no key anywhere else; ``api_key_env="NAME"`` sends ``$NAME``.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import urlsplit

try:
    import httpx
except ModuleNotFoundError as missing:  # the core install has no HTTP client
    raise ModuleNotFoundError(
        "the openai model backend needs the llm extra (httpx is missing): "
        "pip install 'mercato[llm]'",
        name=missing.name,
    ) from None

from sim.llm.errors import EndpointError, LLMError
from sim.llm.openai_choice import (
    STRUCTURED_MODES,
    ChoicePlan,
    needs_wrap,
    structured_fields,
    unwrap_reply,
)
from sim.llm.openai_http import Failed, FormatRejected, Reply, Tally, Transport
from sim.llm.redact import clean, guard_logs
from sim.llm.types import (
    BaseLanguageModel,
    Choice,
    ChooseRequest,
    Completion,
    GenerateRequest,
)

OPENAI_HOST = "api.openai.com"
DEFAULT_KEY_ENV = "OPENAI_API_KEY"
MAX_TOKENS_FIELDS = ("max_tokens", "max_completion_tokens")
CHOOSE_MAX_TOKENS = 16
"""Room for ``{"choice": "12"}`` (or a bare option number) when asking the model to choose."""
TOP_LOGPROBS = 20
"""Alternatives asked for at each token of a choice answer (the most OpenAI allows)."""


class OpenAICompatibleModel(BaseLanguageModel):
    """Talks to ``{base_url}/chat/completions``.

    Options (defaults): ``api_key_env`` (None: ``$OPENAI_API_KEY`` to api.openai.com only, no key
    elsewhere; a name: send that variable, which must be set), ``timeout_s`` (60: total deadline
    of one attempt), ``max_retries`` (3), ``backoff_s`` (0.5), ``max_backoff_s`` (8: also caps
    ``Retry-After`` and the overload pause), ``max_concurrency`` (8), ``extra_body`` (fields
    merged into every request, last), ``structured`` (``"json_schema"``: OpenAI's
    ``response_format``; ``"guided"``: vLLM's ``guided_json``/``guided_choice``; ``"llamacpp"``:
    llama.cpp's ``json_schema``; ``"off"``: never send a schema), ``max_tokens_field`` (None:
    ``max_completion_tokens`` for api.openai.com, ``max_tokens`` elsewhere), ``choice_logprobs``
    (True: ask for logprobs of choice answers and record scores), ``retry_timeouts`` (False: a
    request that timed out after it was sent is not re-sent).

    ``request_gate``: an optional callable run before every HTTP attempt; a
    `BudgetExceededError` from it fails that request unsent (`BudgetedModel` installs one).
    """

    backend = "openai"

    def __init__(
        self,
        *,
        model: str,
        base_url: str,
        api_key_env: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        max_concurrency: int = 8,
        extra_body: dict[str, Any] | None = None,
        structured: str = "json_schema",
        max_tokens_field: str | None = None,
        choice_logprobs: bool = True,
        retry_timeouts: bool = False,
    ) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: expected an http(s) URL, got {base_url!r}")
        for name, value, lowest in (
            ("max_retries", max_retries, 0),
            ("max_concurrency", max_concurrency, 1),
        ):
            if not isinstance(value, int) or value < lowest:
                raise ValueError(f"{name}: expected an integer >= {lowest}, got {value!r}")
        if not isinstance(timeout_s, int | float) or not timeout_s > 0:
            raise ValueError(f"timeout_s: expected a number > 0, got {timeout_s!r}")
        for name, value in (("backoff_s", backoff_s), ("max_backoff_s", max_backoff_s)):
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name}: expected a number >= 0, got {value!r}")
        if api_key_env is not None and (not isinstance(api_key_env, str) or not api_key_env):
            raise ValueError(f"api_key_env: expected a variable name or None, got {api_key_env!r}")
        if structured not in STRUCTURED_MODES:
            raise ValueError(f"structured: expected one of {STRUCTURED_MODES}, got {structured!r}")
        self.model_id = model
        self.base_url = base_url
        self.url = f"{base_url.rstrip('/')}/chat/completions"
        self.host = (urlsplit(base_url).hostname or "").lower()
        if max_tokens_field is None:
            max_tokens_field = MAX_TOKENS_FIELDS[self.host == OPENAI_HOST]
        if max_tokens_field not in MAX_TOKENS_FIELDS:
            raise ValueError(
                f"max_tokens_field: expected one of {MAX_TOKENS_FIELDS}, got {max_tokens_field!r}"
            )
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_concurrency = max_concurrency
        self.extra_body = dict(extra_body or {})
        self.structured = structured
        self.max_tokens_field = max_tokens_field
        self.choice_logprobs = bool(choice_logprobs)
        self.retry_timeouts = bool(retry_timeouts)
        self.request_gate: Callable[[], None] | None = None
        self._label = f"openai endpoint {self.url}"
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=max_concurrency),
        )
        self._transport = Transport(
            client=self._client,
            url=self.url,
            label=self._label,
            timeout_s=timeout_s,
            max_retries=max_retries,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
            retry_timeouts=self.retry_timeouts,
            hint=self._hint,
        )
        self._executor = ThreadPoolExecutor(max_concurrency, thread_name_prefix="mercato-openai")
        self._closed = False
        guard_logs()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model_id!r}, base_url={self.base_url!r}, "
            f"api_key_env={self.api_key_env!r}, structured={self.structured!r})"
        )

    def __enter__(self) -> OpenAICompatibleModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker threads and close the HTTP client. Safe to call twice."""
        self._closed = True
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    # -- keys ------------------------------------------------------------------------------

    @property
    def key_env(self) -> str | None:
        """The variable whose key is sent: ``api_key_env``, else ``$OPENAI_API_KEY`` for
        api.openai.com, else None (no key is sent)."""
        if self.api_key_env is not None:
            return self.api_key_env
        return DEFAULT_KEY_ENV if self.host == OPENAI_HOST else None

    @property
    def key_note(self) -> str:
        """Where the key comes from, for the run summary (never the key itself)."""
        env = self.key_env
        if env is None:
            return "no API key sent"
        return f"key from ${env}" + ("" if os.environ.get(env) else " (not set)")

    def _call_key(self) -> str:
        env = self.key_env
        if env is None:
            return ""
        key = os.environ.get(env, "")
        if not key:
            raise EndpointError(
                f"openai model {self.model_id!r} at {self.url}: the API key variable ${env} is "
                "not set; set it (or name another variable with api_key_env)"
            )
        guard_logs(key)
        return key

    def _hint(self, status: int, body: str) -> str:
        """What to check after a status that retrying will not fix."""
        if status in (401, 403):
            env = self.key_env
            if env is None:
                return (
                    f"; no API key was sent ($OPENAI_API_KEY goes only to {OPENAI_HOST}); "
                    "set api_key_env to the variable holding this server's key"
                )
            return f"; check the API key in ${env}"
        if status == 404:
            return f"; check base_url and the model name {self.model_id!r}"
        return ""

    # -- batches ---------------------------------------------------------------------------

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        key = self._call_key()
        return self._run(lambda r, abort: self._generate_one(r, key, abort), requests)

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        key = self._call_key()
        return self._run(lambda r, abort: self._choose_one(r, key, abort), requests)

    def _run(self, serve: Callable[[Any, threading.Event], Any], requests: list[Any]) -> list:
        """Serve every request with at most ``max_concurrency`` in flight; results in order.

        A whole-call error (the server rejects the request form) stops the requests that have
        not been sent yet and is raised once the running ones are done.
        """
        if self._closed:
            raise LLMError(f"{self!r} is closed; create a new model")
        abort = threading.Event()

        def task(request: Any) -> Any:
            if abort.is_set():
                return None
            try:
                return serve(request, abort)
            except BaseException:
                abort.set()
                raise

        futures = [self._executor.submit(task, request) for request in requests]
        wait(futures)
        errors = [error for future in futures if (error := future.exception()) is not None]
        if errors:
            raise next((e for e in errors if isinstance(e, LLMError)), errors[0])
        return [future.result() for future in futures]

    def _send(
        self,
        payload: dict[str, Any],
        *,
        tally: Tally,
        rng: random.Random,
        key: str,
        abort: threading.Event,
        form: list[str],
    ) -> Reply | Failed:
        try:
            return self._transport.send(
                payload,
                tally=tally,
                rng=rng,
                key=key,
                form=", ".join(form) if form else None,
                gate=self.request_gate,
                abort=abort,
            )
        except FormatRejected as rejected:
            fixes = []
            if any(part.startswith("structured") for part in form):
                fixes.append(
                    "set `structured: off` or another form (json_schema, guided, llamacpp)"
                )
            if any(part.startswith("logprobs") for part in form):
                fixes.append("set `choice_logprobs: false`")
            raise EndpointError(
                f"openai model {self.model_id!r} at {self.url} rejected the request form "
                f"({', '.join(form)}): {clean(str(rejected), (key,), 300)}; "
                f"{' or '.join(fixes)}"
            ) from None

    def _payload(
        self,
        messages: Any,
        max_tokens: int,
        temperature: float,
        stop: tuple[str, ...] = (),
        seed: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model_id,
            "messages": [dict(m) for m in messages],
            self.max_tokens_field: max_tokens,
            "temperature": temperature,
        }
        if stop:
            payload["stop"] = list(stop)
        if seed is not None:
            payload["seed"] = seed
        return {**payload, **(extra or {}), **self.extra_body}

    # -- one request -----------------------------------------------------------------------

    def _generate_one(
        self, request: GenerateRequest, key: str, abort: threading.Event
    ) -> Completion:
        mode = self.structured if request.schema is not None else "off"
        extra = structured_fields(mode, request.schema) if request.schema is not None else {}
        payload = self._payload(
            request.messages,
            request.max_tokens,
            request.temperature,
            request.stop,
            request.seed,
            extra,
        )
        tally = Tally()
        form = [f"structured: {mode}"] if mode != "off" else []
        result = self._send(
            payload, tally=tally, rng=_rng(payload), key=key, abort=abort, form=form
        )
        usage = tally.usage(self.backend, self.model_id, mode)
        if isinstance(result, Failed):
            return Completion("", usage, "stop", error=result.reason, transient=result.transient)
        text = result.text
        if request.schema is not None and needs_wrap(mode, request.schema):
            text = unwrap_reply(text)
        return Completion(text, usage, result.finish_reason)

    def _choose_one(self, request: ChooseRequest, key: str, abort: threading.Event) -> Choice:
        """Ask for an option id; re-ask once on an answer that is not exactly one id, then fall
        back to a seeded draw (method ``"fallback"``, never ``"answer"``)."""
        plan = ChoicePlan.build(request, self.structured)
        extra = plan.constraint()
        form = [f"structured: {self.structured}"] if self.structured != "off" else []
        if self.choice_logprobs:
            extra.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
            form.append("logprobs (choice_logprobs)")
        messages = plan.messages()
        tally = Tally()
        rng: random.Random | None = None
        raw = ""
        for _ in range(2):
            payload = self._payload(
                messages, CHOOSE_MAX_TOKENS, 0.0, seed=request.seed, extra=extra
            )
            rng = rng or _rng(payload)
            result = self._send(payload, tally=tally, rng=rng, key=key, abort=abort, form=form)
            if isinstance(result, Failed):
                return self._fallback(plan, tally, raw, result.reason, result.transient)
            raw = result.text
            k = plan.parse(raw)
            if k is not None:
                index = plan.order[k]
                scores = plan.scores(result.logprobs, raw, k) if self.choice_logprobs else ()
                usage = tally.usage(self.backend, self.model_id, self.structured)
                return Choice(index, request.options[index], usage, "answer", scores, raw=raw)
            messages = plan.reask(messages, raw)
        return self._fallback(plan, tally, raw, None, False)

    def _fallback(
        self, plan: ChoicePlan, tally: Tally, raw: str, error: str | None, transient: bool
    ) -> Choice:
        index = plan.fallback_index()
        return Choice(
            index=index,
            option=plan.request.options[index],
            usage=tally.usage(self.backend, self.model_id, self.structured),
            method="fallback",
            raw=raw,
            error=error,
            transient=transient,
        )


def _rng(payload: dict[str, Any]) -> random.Random:
    """The request's own random stream (backoff jitter): seeded by what it asks."""
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))
