"""Signals between areas (blinker, which Flask uses): a lower area announces, higher areas react.

A lower area never imports a higher one. When something it owns changes in a way others care about,
it sends a signal here; areas that care connect a receiver in their `Area.setup`.

- `member_deactivated(session, member=..., status=...)`: a member was suspended or left
  (auth revokes their sessions).
- `member_changing(session, member=..., actor=...)`: someone is about to change a member; a receiver
  raises Forbidden to refuse (auth: the member holds a role beyond the actor's reach).
- `unit_retiring(session, unit=...)`: may this org unit retire? Each receiver returns a list of
  reasons it may not (plain sentences for the user), or an empty list.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

member_deactivated = _signals.signal("member-deactivated")
member_changing = _signals.signal("member-changing")
unit_retiring = _signals.signal("unit-retiring")


def reasons_against(signal, sender, **kwargs) -> list[str]:
    """Send `signal` and collect every receiver's reasons (a receiver returns a list or None)."""
    reasons: list[str] = []
    for _receiver, result in signal.send(sender, **kwargs):
        reasons.extend(result or ())
    return reasons
