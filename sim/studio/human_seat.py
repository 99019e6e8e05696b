"""A person in an env seat: a policy whose `act` waits for a form submitted from another thread.

The rollout thread calls `HumanSeat.act`; it publishes a `Pending` decision (what the person
sees and the form to answer with) and blocks until `submit` hands it values that make a valid
reply (form values -> reply JSON -> the protocol's `parse_reply`), or until `abandon`. Invalid
values are answered with the form's or the protocol's error and the wait goes on. Replies queued
with `replay` (a resumed episode's journal) are taken without waiting. Each accepted decision is
kept as a `HumanDecision` so the episode's rows can say how the person got there.

A server waits for the next decision with `wait_pending` (a thread) or `wait_pending_async` (an
asyncio task: the episode's thread wakes it through the loop, so a page needs no worker thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from agents.base import BatchPolicy
from envs.core.protocol import ActionParseError, TextProtocol
from sim.studio.forms import Form, FormError, FormValues, build_form

HUMAN = "human"
"""The policy label and ``parse_status`` of a person's decisions in the steps table."""


class SeatAbandoned(RuntimeError):
    """The person left (or timed out): raised out of `HumanSeat.act` to end the episode."""


@dataclass(frozen=True)
class Pending:
    """A decision waiting for the person: ``number`` counts the seat's decisions from 0.

    ``text`` and ``instructions`` are what the role may see; ``observation`` is kept for
    validation on the server and must never be sent to a page."""

    number: int
    agent: str
    text: str
    instructions: str
    form: Form
    observation: Any = field(repr=False)


@dataclass(frozen=True)
class HumanDecision:
    """One accepted decision: the text shown, the reply that parsed, the replies refused first
    (with the errors shown for them) and the action."""

    agent: str
    text: str
    reply: str
    refused: tuple[tuple[str, str], ...]
    action: Any


Accepted = Callable[[HumanDecision], None]
"""Called with each accepted, not replayed, decision (the journal), on the rollout's thread
before `act` returns it: before the episode moves on, and off the thread that answered the
person's request."""


class HumanSeat(BatchPolicy):
    """Seats a person: `act` blocks until `submit` gives a valid reply (see module docstring).

    ``timeout_s`` bounds each wait (None: forever); a wait that runs out abandons the seat.
    """

    name = HUMAN

    def __init__(
        self,
        protocol: TextProtocol,
        on_accept: Accepted | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.protocol = protocol
        self.on_accept = on_accept
        self.timeout_s = timeout_s
        self.decisions: list[HumanDecision] = []
        self._pending: Pending | None = None
        self._refused: list[tuple[str, str]] = []
        self._answered = False
        self._abandoned = False
        self._ended = False
        self._replay: deque[tuple[str, tuple[tuple[str, str], ...]]] = deque()
        self._count = 0
        self._cond = threading.Condition()
        self._wakers: list[Callable[[], None]] = []
        """Called once at the next change a waiter looks for (see `_changed`)."""

    # --- the rollout's side ---

    def act(self, observation: Any, agent: str) -> Any:
        """Publish the decision and wait for the person's valid reply (`SeatAbandoned` if not)."""
        if self._replay:
            return self._replayed(observation, agent)
        pending = Pending(
            self._count,
            agent,
            self.protocol.render(observation, agent),
            self.protocol.instructions(agent),
            build_form(self.protocol, observation, agent),
            observation,
        )
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        with self._cond:
            if self._abandoned:
                raise SeatAbandoned(agent)
            self._pending, self._answered, self._refused = pending, False, []
            self._changed()
            while not self._answered and not self._abandoned:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    self._abandoned = True
                    break
                self._cond.wait(left)
            self._pending = None
            if not self._answered:
                raise SeatAbandoned(agent)
            self._count += 1
            decision = self.decisions[-1]
        if self.on_accept is not None:
            self.on_accept(decision)  # journaled before the episode moves on
        return decision.action

    def _replayed(self, observation: Any, agent: str) -> Any:
        reply, refused = self._replay.popleft()
        action = self.protocol.parse_reply(reply, observation, agent)  # it parsed before
        text = self.protocol.render(observation, agent)
        self.decisions.append(HumanDecision(agent, text, reply, refused, action))
        self._count += 1
        return action

    # --- the person's side (any thread) ---

    def pending(self) -> Pending | None:
        """The decision waiting for the person, if any."""
        with self._cond:
            return self._pending

    def wait_pending(self, timeout_s: float | None = None) -> Pending | None:
        """Wait until a decision is published (or the timeout passes); it, or None."""
        with self._cond:
            self._cond.wait_for(
                lambda: self._pending is not None or self._abandoned or self._ended, timeout_s
            )
            return self._pending

    async def wait_pending_async(self, timeout_s: float) -> Pending | None:
        """`wait_pending` for an asyncio task: the episode's thread wakes it through the loop."""
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
                loop.call_soon_threadsafe(changed.set)

        with self._cond:
            if self._pending is not None or self._abandoned or self._ended:
                return self._pending
            self._wakers.append(wake)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout_s)
        with self._cond:
            if wake in self._wakers:
                self._wakers.remove(wake)
            return self._pending

    def submit(self, values: FormValues, number: int | None = None) -> str | None:
        """Answer the pending decision with form values; None when accepted, else the message
        to show (the form's, or the protocol's for a reply it does not take).

        ``number`` (the `Pending.number` the form was made for) refuses a stale or repeated
        submission instead of applying it to a later decision."""
        with self._cond:
            pending, problem = self._current(number)
            if pending is None:
                return problem
            try:
                reply = pending.form.reply_text(values)
            except FormError as error:
                return str(error)
            return self._take(pending, reply)

    def submit_text(self, reply: str, number: int | None = None) -> str | None:
        """Answer with typed text in the protocol's command format (its `instructions`)."""
        with self._cond:
            pending, problem = self._current(number)
            if pending is None:
                return problem
            return self._take(pending, reply)

    def _current(self, number: int | None) -> tuple[Pending | None, str]:
        pending = self._pending
        if pending is None or self._answered:
            return None, "no decision is waiting for you now"
        if number is not None and number != pending.number:
            return None, "this decision was already made; answer the current one"
        return pending, ""

    def _take(self, pending: Pending, reply: str) -> str | None:
        try:
            action = self.protocol.parse_reply(reply, pending.observation, pending.agent)
        except ActionParseError as error:
            self._refused.append((reply, str(error)))
            return str(error)
        decision = HumanDecision(pending.agent, pending.text, reply, tuple(self._refused), action)
        self.decisions.append(decision)
        self._answered, self._pending = True, None
        self._cond.notify_all()
        return None

    def abandon(self) -> None:
        """End the wait for good: the episode stops with `SeatAbandoned`."""
        with self._cond:
            self._abandoned = True
            self._changed()

    def end(self) -> None:
        """The episode is over (no more decisions): wake every `wait_pending`."""
        with self._cond:
            self._ended = True
            self._changed()

    def _changed(self) -> None:
        """Wake every waiter: threads on the condition, tasks through their loops (called
        with the condition held)."""
        self._cond.notify_all()
        wakers, self._wakers = self._wakers, []
        for wake in wakers:
            wake()

    def replay(self, replies: Iterable[tuple[str, Iterable[tuple[str, str]]]]) -> None:
        """Queue journaled replies (reply text, refused replies) to take without waiting."""
        self._replay.extend((reply, tuple(map(tuple, refused))) for reply, refused in replies)
