"""Simulated people: ``import agents.users`` registers them with `agents.registry`.

* ``trials/parametric`` (`agents.users.parametric`): the calibrated participant of the manipulation
  trials (rules in `agents.users.participant_model`, fitting in `agents.users.calibration`).
"""

from agents.users import parametric

__all__ = ["parametric"]
