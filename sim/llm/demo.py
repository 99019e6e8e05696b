"""`mercato demo`: the smallest end-to-end proof that the model layer works on this machine."""

from __future__ import annotations

import time

from rich.console import Console

from sim.llm import make_model

DEMO_CHAT = [
    {"role": "system", "content": "You are a shopping assistant. Answer in one or two sentences."},
    {"role": "user", "content": "What should I check before buying a used bicycle?"},
]
DEMO_CHOICE = {
    "messages": [
        {
            "role": "user",
            "content": "A seller asks 12 dollars for a sandwich that is worth 15 dollars to you. "
            "Do you accept or reject the offer?",
        }
    ],
    "options": ["accept", "reject"],
}


def run_demo(spec: str, console: Console) -> None:
    """Load the model, answer one chat prompt and one constrained choice, report speed."""
    if spec == "local":
        from sim.llm.model_store import pull

        pull()
    started = time.perf_counter()
    model = make_model(spec)
    console.print(f"loaded {model!r} in {time.perf_counter() - started:.1f} s")
    completion = model.generate([{"messages": DEMO_CHAT, "max_tokens": 48}])[0]
    usage = completion.usage
    console.print(f"[bold]chat[/bold]: {completion.text.strip()!r}", highlight=False)
    console.print(
        f"  {usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens "
        f"in {usage.latency_s:.2f} s{_speed(usage.completion_tokens, usage.latency_s)}"
    )
    choice = model.choose([DEMO_CHOICE])[0]
    scores = ", ".join(
        f"{o}: {s:.2f}" for o, s in zip(DEMO_CHOICE["options"], choice.scores, strict=False)
    )
    console.print(
        f"[bold]choice[/bold]: {choice.option!r} by {choice.method} ({scores})", highlight=False
    )
    console.print(f"  {choice.usage.prompt_tokens} tokens scored in {choice.usage.latency_s:.2f} s")


def _speed(tokens: int, seconds: float) -> str:
    """`` = N tokens/s``, or why there is no rate (a model that takes no time, like the fake)."""
    if seconds >= 0.005:  # the 0.00 s shown: below it a rate says nothing
        return f" = {tokens / seconds:.1f} tokens/s"
    return " (no measurable time, so no tokens/s)"
