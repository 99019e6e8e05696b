"""Observation encoders for RL libraries: mercato's Dict observations as one flat Box.

Standard RL code (Stable-Baselines3, RLlib's default models) needs a fixed-size numeric vector.
`FlattenObservation` keeps every numeric component of a Dict observation (Box, Discrete as a
one-hot, MultiBinary, MultiDiscrete as one-hots), in key order, and either drops the free-text
components or, with ``embed_text=True``, appends the sentence embedding (all-MiniLM-L6-v2, 384
numbers, `envs.core.embedding`) of the ``text`` view, or of each text where there is no view, so
that state held only in words is learnable too.

Infinite Box bounds are kept as they are; scale inputs yourself if your algorithm needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium
import numpy as np
from gymnasium.spaces import Box, Dict, Discrete, MultiBinary, MultiDiscrete, Space, Text

from envs.core.embedding import EMBEDDING_DIM, sentence_encoder

NUMERIC = (Box, Discrete, MultiBinary, MultiDiscrete)


def numeric_keys(space: Dict) -> list[str]:
    """The Dict's numeric components, in key order."""
    return [key for key, sub in space.spaces.items() if isinstance(sub, NUMERIC)]


def text_keys(space: Dict) -> list[str]:
    """The Dict's text components to embed, in key order: its ``text`` view alone where it has
    one (the view holds the other text fields in words), else every text component."""
    keys = [key for key, sub in space.spaces.items() if isinstance(sub, Text)]
    return ["text"] if "text" in keys else keys


class ObservationEncoder:
    """Encodes one Dict observation of ``space`` as a float32 vector (see the module docstring)."""

    def __init__(
        self,
        space: Space[Any],
        *,
        embed_text: bool = False,
        encode: Callable[[Sequence[str]], np.ndarray] | None = None,
    ) -> None:
        if not isinstance(space, Dict):
            raise ValueError(f"expected a Dict observation space, got {space}")
        self.space = space
        self.numeric = numeric_keys(space)
        self.texts = text_keys(space) if embed_text else []
        if not self.numeric and not self.texts:
            raise ValueError(f"{space} has no numeric component; pass embed_text=True")
        self._encode = encode or (lambda texts: sentence_encoder().encode(list(texts)))
        self.numeric_space = Dict({key: space.spaces[key] for key in self.numeric})
        low = gymnasium.spaces.flatten_space(self.numeric_space).low if self.numeric else []
        high = gymnasium.spaces.flatten_space(self.numeric_space).high if self.numeric else []
        text_size = EMBEDDING_DIM * len(self.texts)
        self.observation_space = Box(
            np.concatenate([low, np.full(text_size, -1.0)]).astype(np.float32),
            np.concatenate([high, np.full(text_size, 1.0)]).astype(np.float32),
            dtype=np.float32,
        )

    def __call__(self, observation: Any) -> np.ndarray:
        parts = []
        if self.numeric:
            picked = {key: observation[key] for key in self.numeric}
            parts.append(gymnasium.spaces.flatten(self.numeric_space, picked))
        if self.texts:
            vectors = self._encode([str(observation[key]) for key in self.texts])
            parts.append(np.asarray(vectors, dtype=np.float32).ravel())
        return np.concatenate(parts).astype(np.float32)


class FlattenObservation(gymnasium.ObservationWrapper, gymnasium.utils.RecordConstructorArgs):
    """A Gymnasium env with Dict observations seen as one flat float32 Box."""

    def __init__(
        self,
        env: gymnasium.Env,
        *,
        embed_text: bool = False,
        encode: Callable[[Sequence[str]], np.ndarray] | None = None,
    ) -> None:
        gymnasium.utils.RecordConstructorArgs.__init__(self, embed_text=embed_text, encode=encode)
        gymnasium.ObservationWrapper.__init__(self, env)
        self.encoder = ObservationEncoder(
            env.observation_space, embed_text=embed_text, encode=encode
        )
        self.observation_space = self.encoder.observation_space

    def observation(self, observation: Any) -> np.ndarray:
        return self.encoder(observation)
