"""A backend for any OpenAI-compatible chat-completions server (vLLM, Ollama, llama.cpp, OpenAI).

Batches are sent from a thread pool over one shared `httpx.Client` rather than with asyncio, so the
model works the same inside Jupyter's running event loop. Every request has a timeout and a bounded
number of retries; the API key is read from an environment variable at request time and never
appears in messages, logs or reprs.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, NamedTuple

import httpx

from sim.llm.errors import EndpointError, LLMError
from sim.llm.types import (
    BaseLanguageModel,
    Choice,
    ChooseRequest,
    Completion,
    GenerateRequest,
    Usage,
)

logger = logging.getLogger(__name__)

CHOOSE_MAX_TOKENS = 8
"""Room for a bare option number (or a short option text) when asking the model to choose."""


class _Reply(NamedTuple):
    """One successful chat completion, as parsed from the server's body."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency_s: float


class OpenAICompatibleModel(BaseLanguageModel):
    """Talks to ``{base_url}/chat/completions``; ``choose`` asks the model for an option number."""

    backend = "openai"

    def __init__(
        self,
        *,
        model: str,
        base_url: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        timeout_s: float = 60.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_backoff_s: float = 8.0,
        max_concurrency: int = 8,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: expected an http(s) URL, got {base_url!r}")
        for name, value, lowest in (
            ("max_retries", max_retries, 0),
            ("max_concurrency", max_concurrency, 1),
        ):
            if not isinstance(value, int) or value < lowest:
                raise ValueError(f"{name}: expected an integer >= {lowest}, got {value!r}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s: expected a number > 0, got {timeout_s!r}")
        self.model_id = model
        self.base_url = base_url
        self.url = f"{base_url.rstrip('/')}/chat/completions"
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_concurrency = max_concurrency
        self.extra_body = dict(extra_body or {})
        self._label = f"openai endpoint {self.url}"
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=max_concurrency),
        )
        self._executor = ThreadPoolExecutor(max_concurrency, thread_name_prefix="mercato-openai")
        self._closed = False

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(model={self.model_id!r}, base_url={self.base_url!r}, "
            f"api_key_env={self.api_key_env!r})"
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

    def _generate(self, requests: list[GenerateRequest]) -> list[Completion]:
        payloads = [
            self._payload(r.messages, r.max_tokens, r.temperature, r.stop, r.seed) for r in requests
        ]
        return [
            Completion(
                text=reply.text,
                finish_reason=reply.finish_reason,
                usage=self._usage([reply]),
            )
            for reply in self._send_all(payloads)
        ]

    def _choose(self, requests: list[ChooseRequest]) -> list[Choice]:
        """Ask for an option number; re-ask once on an unusable answer, then draw a seeded one."""
        prompts = [_choice_prompt(r) for r in requests]
        first = self._send_all(
            [self._choice_payload(p, r.seed) for p, r in zip(prompts, requests, strict=True)]
        )
        attempts = [[reply] for reply in first]
        picks = [
            _parse_choice(reply.text, r.options) for reply, r in zip(first, requests, strict=True)
        ]
        unparsed = [i for i, pick in enumerate(picks) if pick is None]
        reasks = [
            self._choice_payload(_reask(prompts[i], first[i].text, requests[i]), requests[i].seed)
            for i in unparsed
        ]
        for i, reply in zip(unparsed, self._send_all(reasks), strict=True):
            attempts[i].append(reply)
            picks[i] = _parse_choice(reply.text, requests[i].options)

        choices = []
        for request, pick, replies in zip(requests, picks, attempts, strict=True):
            if pick is None:
                index = random.Random(request.seed or 0).randrange(len(request.options))
                method = "fallback"
            else:
                index, method = pick, "answer"
            choices.append(
                Choice(
                    index=index,
                    option=request.options[index],
                    usage=self._usage(replies),
                    method=method,
                )
            )
        return choices

    def _payload(
        self,
        messages: Any,
        max_tokens: int,
        temperature: float,
        stop: tuple[str, ...] = (),
        seed: int | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model_id,
            "messages": [dict(m) for m in messages],
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if stop:
            payload["stop"] = list(stop)
        if seed is not None:
            payload["seed"] = seed
        return {**payload, **self.extra_body}

    def _choice_payload(self, messages: list[dict[str, str]], seed: int | None) -> dict[str, Any]:
        return self._payload(messages, CHOOSE_MAX_TOKENS, 0.0, seed=seed)

    def _usage(self, replies: list[_Reply]) -> Usage:
        return Usage(
            prompt_tokens=sum(r.prompt_tokens for r in replies),
            completion_tokens=sum(r.completion_tokens for r in replies),
            latency_s=sum(r.latency_s for r in replies),
            backend=self.backend,
            model=self.model_id,
        )

    def _send_all(self, payloads: list[dict[str, Any]]) -> list[_Reply]:
        """Send a batch with at most ``max_concurrency`` in flight; results in payload order.

        After a request fails for good the rest of the batch is skipped (running ones finish),
        and the failure of the earliest failed request is raised.
        """
        if self._closed:
            raise LLMError(f"{self!r} is closed; create a new model")
        failed = threading.Event()

        def send(payload: dict[str, Any]) -> _Reply | None:
            if failed.is_set():
                return None
            try:
                return self._send(payload)
            except BaseException:
                failed.set()
                raise

        futures = [self._executor.submit(send, payload) for payload in payloads]
        wait(futures)
        for future in futures:
            if (error := future.exception()) is not None:
                raise error
        return [reply for future in futures if (reply := future.result()) is not None]

    def _send(self, payload: dict[str, Any]) -> _Reply:
        """POST one payload, retrying transient failures with backoff; raise `EndpointError`."""
        start = time.monotonic()
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            retry_after = None
            try:
                response = self._client.post(self.url, json=payload, headers=self._headers())
            except httpx.RequestError as exc:
                timed_out = isinstance(exc, httpx.TimeoutException)
                problem = "timed out" if timed_out else "connection failed"
                detail = type(exc).__name__
            else:
                status = response.status_code
                if status == 429 or status >= 500:
                    problem, detail = f"HTTP {status}", response.reason_phrase
                    retry_after = _retry_after(response)
                elif not response.is_success:
                    raise EndpointError(self._rejection(response))
                else:
                    reply = _parse_reply(response)
                    if isinstance(reply, _Reply):
                        return reply._replace(latency_s=time.monotonic() - start)
                    problem, detail = "malformed response", reply
            if attempt + 1 < attempts:
                wait_s = retry_after if retry_after is not None else self.backoff_s * 2**attempt
                wait_s = min(wait_s, self.max_backoff_s)
                logger.info(
                    "%s: %s (%s); retry %d/%d in %.2fs",
                    self._label,
                    problem,
                    detail,
                    attempt + 1,
                    self.max_retries,
                    wait_s,
                )
                time.sleep(wait_s)
        raise EndpointError(f"{self._label}: {problem} after {attempts} attempts ({detail})")

    def _api_key(self) -> str:
        return os.environ.get(self.api_key_env, "") if self.api_key_env else ""

    def _headers(self) -> dict[str, str]:
        key = self._api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _rejection(self, response: httpx.Response) -> str:
        """A one-line message for a status that retrying will not fix, with a hint what to check."""
        status = response.status_code
        text = " ".join(response.text.split())
        key = self._api_key()
        if key:  # some servers echo the key they were sent
            text = text.replace(key, "***")
        message = f"{self._label}: HTTP {status} {response.reason_phrase}"
        if text:
            message += f": {text[:200]}"
        if status in (401, 403):
            if self.api_key_env is None:
                return f"{message}; no API key was sent (api_key_env=None)"
            unset = "" if key else ", which is not set"
            return f"{message}; check the API key in ${self.api_key_env}{unset}"
        if status == 404:
            return f"{message}; check base_url and the model name {self.model_id!r}"
        return message


def _retry_after(response: httpx.Response) -> float | None:
    """The numeric ``Retry-After`` header in seconds, if the server sent one."""
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return None


def _parse_reply(response: httpx.Response) -> _Reply | str:
    """The reply in a chat-completions body, or what is wrong with the body."""
    try:
        body = response.json()
    except ValueError:
        return "body is not JSON"
    try:
        choice = body["choices"][0]
        content = choice["message"]["content"]
    except (KeyError, IndexError, TypeError):
        content = None
    if not isinstance(content, str):
        return "no string at choices[0].message.content"
    usage = body.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    return _Reply(
        text=content,
        finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")),
        latency_s=0.0,
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


def _choice_prompt(request: ChooseRequest) -> list[dict[str, str]]:
    """The request's messages plus a user turn listing the options, numbered from 1.

    When the conversation already ends with a user turn the question is added to that turn, so
    roles keep alternating (some chat templates reject two user turns in a row).
    """
    listing = "\n".join(f"{i}. {option}" for i, option in enumerate(request.options, 1))
    question = (
        f"Choose one of these options:\n{listing}\n"
        f"Answer with only the number of your choice (1-{len(request.options)})."
    )
    messages = [dict(m) for m in request.messages]
    if messages[-1]["role"] == "user":
        messages[-1]["content"] = f"{messages[-1]['content']}\n\n{question}"
    else:
        messages.append({"role": "user", "content": question})
    return messages


def _reask(
    prompt: list[dict[str, str]], answer: str, request: ChooseRequest
) -> list[dict[str, str]]:
    """The prompt followed by the unusable answer and a correction."""
    correction = (
        f"That is not one of the options. Reply with only a number from 1 to "
        f"{len(request.options)}."
    )
    return [
        *prompt,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": correction},
    ]


def _parse_choice(answer: str, options: tuple[str, ...]) -> int | None:
    """The option index an answer names: the first number in 1..N, else an option's exact text,
    else the longest option text the answer contains as whole words; None when it names none."""
    for match in re.finditer(r"\d+", answer):
        number = int(match.group())
        if 1 <= number <= len(options):
            return number - 1
    said = answer.strip().lower()
    texts = [option.strip().lower() for option in options]
    if said and said in texts:
        return texts.index(said)
    contained = [i for i, text in enumerate(texts) if text and _contains_words(said, text)]
    return max(contained, key=lambda i: len(texts[i]), default=None)


def _contains_words(text: str, phrase: str) -> bool:
    """Whether ``phrase`` occurs in ``text`` not as part of a longer word."""
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text) is not None
