"""Notice kinds (their words, registered by the areas that send them) and delivery channels.

The in-app channel is the notices table itself. Another channel (SMS, WeChat) is a function
`send(tenant_id, member_id, kind, params, text)` registered with `register_channel`; it is called
after the transaction that made the notice commits, never before, and never for one rolled back.
SMS and WeChat gateways cannot be reached from this deployment, so none is registered here."""

from __future__ import annotations

from collections.abc import Callable

# kind -> a lazy text with %(name)s placeholders filled from the notice's params
KINDS: dict[str, object] = {}
Channel = Callable[[int, int, str, dict, str], None]
CHANNELS: list[Channel] = []


def register_kind(kind: str, text) -> None:
    KINDS[kind] = text


def register_channel(channel: Channel) -> None:
    if channel not in CHANNELS:
        CHANNELS.append(channel)


def render(kind: str, params: dict) -> str:
    """The notice's words in the current language (its kind's text with its params)."""
    text = KINDS.get(kind)
    if text is None:
        return kind
    try:
        return str(text) % params
    except (KeyError, TypeError, ValueError):
        return str(text)
