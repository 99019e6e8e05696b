"""Decisions as chat text: LLM turns as recorded, scripted turns as an LLM would have seen them.

A scripted player's turn becomes the prompt `LLMPolicy` would have built for the same
observation (the role prompt, the protocol's instructions, the rendered observation) and, as the
completion, the protocol's ``describe(action, observation, agent)``: the reply that parses back
to the action taken. That turns equilibrium and heuristic players into demonstrations for SFT.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sim.export.decisions import Decision, RunData
from sim.export.errors import ExportError
from sim.export.rehydrate import from_json

RolePrompt = str | Mapping[str, str] | None
"""One role prompt for every agent, or agent name / role -> prompt; None: the game's own."""


@dataclass(frozen=True)
class TextDecision:
    """A decision as chat text: ``source`` is ``llm`` (recorded) or ``scripted`` (rendered)."""

    decision: Decision
    prompt: list[dict[str, str]]
    completion: str
    source: str


def text_decisions(
    run: RunData,
    decisions: list[Decision],
    include_scripted: bool = False,
    role_prompt: RolePrompt = None,
) -> list[TextDecision]:
    """LLM decisions whose action came from a parsed reply, plus (optionally) scripted ones."""
    out = []
    renderer: ScriptedRenderer | None = None
    for d in decisions:
        if d.is_llm:
            if d.from_reply and d.prompt and d.reply is not None:
                out.append(TextDecision(d, d.prompt, d.reply, "llm"))
        elif include_scripted:
            renderer = renderer or ScriptedRenderer(run, role_prompt)
            out.append(renderer.text(d))
    return out


class ScriptedRenderer:
    """Renders scripted decisions through the env's text protocol, one env per cell."""

    def __init__(self, run: RunData, role_prompt: RolePrompt = None) -> None:
        self.run = run
        self.role_prompt = role_prompt
        self._envs: dict[str, Any] = {}
        self._policies: dict[tuple[str, str], Any] = {}

    def text(self, d: Decision) -> TextDecision:
        env = self._env(d.cell_id)
        where = f"{d.episode_id} step {d.step} ({d.agent})"
        observation = from_json(
            d.observation, env.observation_space(d.agent), f"{where} observation"
        )
        action = from_json(d.action, env.action_space(d.agent), f"{where} action")
        policy = self._policy(env, d)
        try:
            completion = policy.protocol.describe(action, observation, d.agent)
        except NotImplementedError:
            raise self._no_describe() from None
        except ValueError as error:
            raise ExportError(f"{where}: cannot write the action as text ({error})") from None
        return TextDecision(d, policy.prompt_for(observation, d.agent), str(completion), "scripted")

    def _env(self, cell_id: str) -> Any:
        if cell_id not in self._envs:
            from envs.core.protocol import TextProtocol, protocol_of
            from sim.engine.batch import make_env

            env = make_env(self.run.env_id, self.run.cells[cell_id]["params"])
            try:
                protocol = protocol_of(env)
            except ValueError:
                raise ExportError(
                    f"{self.run.env_id} has no text protocol, so its scripted decisions cannot be "
                    "written as text; use --format minari --agent NAME for offline RL"
                ) from None
            describe = getattr(type(protocol), "describe", None)
            if describe is None or describe is getattr(TextProtocol, "describe", None):
                raise self._no_describe()
            self._envs[cell_id] = env
        return self._envs[cell_id]

    def _policy(self, env: Any, d: Decision) -> Any:
        key = (d.cell_id, d.agent)
        if key not in self._policies:
            from agents.llm import LLMPolicy
            from agents.prompts import role_prompts
            from envs.core.protocol import protocol_of

            prompts = self.role_prompt if self.role_prompt is not None else role_prompts(env)
            if isinstance(prompts, str):
                text = prompts
            else:
                text = prompts.get(d.agent) or prompts.get(d.role) or ""
            # the policy is only asked for prompts: `prompt_for` is exactly what LLM players see
            self._policies[key] = LLMPolicy("fake", text, protocol_of(env))
        return self._policies[key]

    def _no_describe(self) -> ExportError:
        return ExportError(
            f"{self.run.env_id}: its text protocol has no describe(), so scripted decisions "
            "cannot be written as replies; only LLM decisions can be exported for it "
            "(drop --scripted, or use --format minari --agent NAME for offline RL)"
        )
