"""Simulated people: ``import agents.users`` registers them with `agents.registry`.

* ``dialogue/agenda`` (`agents.users.agenda`): the agenda-based user of the recommendation
  dialogues;
* ``trials/parametric`` (`agents.users.parametric`): the calibrated participant of the manipulation
  trials (rules in `agents.users.participant_model`, fitting in `agents.users.calibration`).
"""

from agents.users import agenda, parametric

__all__ = ["agenda", "parametric"]
