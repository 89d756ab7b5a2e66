"""Notice kinds (their words, registered by the areas that send them) and delivery channels.

The in-app channel is the notices table itself. Another channel (SMS, WeChat) is a function
`send(tenant_id, member_id, kind, params, text)` registered with `register_channel`; it is called
after the transaction that made the notice commits, never before, and never for one rolled back.
SMS and WeChat gateways cannot be reached from this deployment, so none is registered here."""

from __future__ import annotations

from collections.abc import Callable, Mapping

# kind -> a lazy text with %(name)s placeholders filled from the notice's params
KINDS: dict[str, object] = {}
# kind -> {param: {code: lazy label}}: params stored as codes, put into words when the notice is shown
WORDS: dict[str, dict[str, Mapping[str, object]]] = {}
Channel = Callable[[int, int, str, dict, str], None]
CHANNELS: list[Channel] = []


def register_kind(kind: str, text, words: dict[str, Mapping[str, object]] | None = None) -> None:
    """`words`: params the notice stores as a code (a payment channel, say) and shows in the reader's
    language, each with its labels by code. (A label stored in the sender's language would reach a
    reader of the other language as it was written.)"""
    KINDS[kind] = text
    if words:
        WORDS[kind] = words


def register_channel(channel: Channel) -> None:
    if channel not in CHANNELS:
        CHANNELS.append(channel)


def render(kind: str, params: dict) -> str:
    """The notice's words in the current language (its kind's text with its params)."""
    text = KINDS.get(kind)
    if text is None:
        return kind
    words = WORDS.get(kind)
    if words:  # a value that is not one of the codes (an older notice's stored words) is shown as it is
        params = {**params, **{k: str(labels[params[k]]) for k, labels in words.items() if params.get(k) in labels}}
    try:
        return str(text) % params
    except (KeyError, TypeError, ValueError):
        return str(text)
