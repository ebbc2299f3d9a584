"""CloudEvents 1.0 binary-mode Kafka messages, encoded and decoded on the event bus's hot path.

Implements the CloudEvents Kafka protocol binding 1.0, binary content mode
(https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md,
section 3.2): each context attribute ``a`` travels in the header ``ce_a`` (UTF-8),
``datacontenttype`` in ``content-type``, the event data is the message value and the
``partitionkey`` extension is the message key.

Why not the CloudEvents SDK's ``cloudevents.kafka.to_binary``/``from_binary``: they build an
intermediate ``CloudEvent`` object and cost about 30 microseconds per event each way on
this machine, more than the Kafka client itself; the bus moves every event through both.
The output here is byte for byte the SDK's (same headers, same order, same value), which
``tests/unit/test_event_codec.py`` checks in both directions, and decoding validates more
than the SDK does (see :func:`decode`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson
from cloudevents.kafka import KafkaMessage

if TYPE_CHECKING:  # events.py imports this module: no import cycle at run time
    from services.common.events import Envelope

SPEC_VERSION = "1.0"
JSON = "application/json"
_JSON_BYTES = JSON.encode()
_SPEC_BYTES = SPEC_VERSION.encode()
_REQUIRED = ("id", "source", "type")
# Attributes carried by an Envelope's own fields (everything else is an extension).
KNOWN_ATTRIBUTES = frozenset(
    {"id", "source", "type", "specversion", "time", "subject", "datacontenttype", "partitionkey"}
)
# Header name -> attribute for the names as encode() writes them (decode's fast path).
_HEADER_ATTRIBUTES = {
    f"ce_{name}": name for name in ("id", "source", "type", "specversion", "time", "subject", "traceparent")
}
# The same encoder settings as json.dumps(data, separators=(",", ":")), which the SDK path used.
_dumps = json.JSONEncoder(separators=(",", ":")).encode
_LONG_DIGITS = re.compile(rb"[0-9]{19}")  # an integer orjson may not read exactly (see decode_data)
_LONG_DIGITS_STR = re.compile(r"[0-9]{19}")
_NOT_READ = object()
_loads = json.loads


def encode_data(data: dict[str, Any]) -> bytes:
    """The JSON message value of ``data`` (compact separators, UTF-8).

    Raises:
        ValueError: ``data`` holds a type JSON cannot represent (the encoder's ``TypeError``
            re-raised), or a circular reference.
    """
    try:
        return _dumps(data).encode()
    except TypeError as exc:
        raise ValueError(f"CloudEvent data is not JSON: {exc}") from exc


def encode(envelope: Envelope) -> KafkaMessage:
    """Binary-mode Kafka message of ``envelope``: ``ce_*`` headers, JSON value, key = job id.

    Header order follows the SDK: ``content-type``, ``ce_id``, ``ce_source``, ``ce_type``,
    ``ce_specversion``, ``ce_time``, ``ce_subject`` (when set), then extensions.

    Raises:
        ValueError: the data is not JSON-serialisable or a required attribute is empty.
    """
    value = encode_value(envelope)
    headers = encode_headers(
        envelope.id,
        envelope.source,
        envelope.type,
        envelope.time,
        envelope.subject,
        envelope.extensions.items(),
    )
    return KafkaMessage(headers, envelope.key, value)


def encode_value(envelope: Envelope) -> bytes:
    """Check the required attributes and encode the data: what :func:`encode` validates
    (the memory bus keeps this and builds the headers only when asked for them).

    Raises:
        ValueError: the data is not JSON-serialisable or id, source or type is empty.
    """
    if not (envelope.id and envelope.source and envelope.type):
        raise ValueError("CloudEvent needs a non-empty id, source and type")
    return encode_data(envelope.data)


def encode_headers(
    event_id: str,
    source: str,
    event_type: str,
    time: str,
    subject: str | None,
    extensions: Iterable[tuple[str, str | None]],
) -> dict[str, bytes]:
    """The ``ce_*`` and ``content-type`` headers of an event, in the SDK's order (see :func:`encode`).

    Raises:
        UnicodeEncodeError: an attribute holds a lone surrogate (a ``ValueError``).
    """
    headers = {
        "content-type": _JSON_BYTES,
        "ce_id": event_id.encode(),
        "ce_source": source.encode(),
        "ce_type": event_type.encode(),
        "ce_specversion": _SPEC_BYTES,
        "ce_time": time.encode(),
    }
    if subject:
        headers["ce_subject"] = subject.encode()
    for name, value in extensions:
        if value is not None:
            headers["ce_" + name.lower()] = value.encode()
    return headers


def decode_headers(headers: dict[str, bytes]) -> dict[str, str]:
    """Context attributes of a binary-mode message: ``ce_*`` headers and ``content-type``.

    Raises:
        ValueError: a header is not UTF-8, ``specversion`` is not ``1.0``, ``id``,
            ``source`` or ``type`` is missing or empty, or the content type is not JSON.
    """
    attrs: dict[str, str] = {}
    try:
        for name, value in headers.items():
            name = name.lower()
            if name.startswith("ce_"):
                attrs[name[3:]] = value.decode()
            elif name == "content-type":
                attrs["datacontenttype"] = value.decode()
    except UnicodeDecodeError as exc:
        raise ValueError(f"not a binary-mode CloudEvent: header is not UTF-8 ({exc})") from exc
    if attrs.get("specversion") != SPEC_VERSION:
        raise ValueError(f"not a binary-mode CloudEvent: specversion {attrs.get('specversion')!r} is not 1.0")
    for name in _REQUIRED:
        if not attrs.get(name):
            raise ValueError(f"not a binary-mode CloudEvent: attribute {name!r} is missing")
    ctype = attrs.get("datacontenttype", JSON)
    if ctype != JSON and not ctype.split(";", 1)[0].strip().endswith(("/json", "+json")):
        raise ValueError(f"CloudEvent data must be JSON, not {ctype!r}")
    return attrs


def decode_data(value: bytes | str | None) -> dict[str, Any]:
    """The JSON object of a message value (an empty value is ``{}``).

    Raises:
        ValueError: the value is not JSON or not a JSON object.
    """
    if not value:
        return {}
    # orjson (UTF-8 only, as the binding says) is 4-6 times faster than json.loads. What it
    # refuses and json accepts (NaN, Infinity, which json.dumps writes) is read by json, and so
    # is a value with a run of 19 or more digits: orjson turns an integer beyond 64 bits into
    # a float, json keeps it exact. The same values decode as before.
    text = isinstance(value, str)
    data: Any = _NOT_READ
    if not (_LONG_DIGITS_STR if text else _LONG_DIGITS).search(value):  # type: ignore[arg-type]
        try:
            data = orjson.loads(value)
        except orjson.JSONDecodeError:
            pass  # json says why, or reads it (NaN)
    if data is _NOT_READ:
        try:
            data = _loads(value if text else value.decode())  # type: ignore[union-attr]
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ValueError(f"not a binary-mode CloudEvent: value is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise ValueError("CloudEvent data must be a JSON object")
    return data


def decode(
    headers: Iterable[tuple[str, bytes]], key: str | bytes | None, value: bytes | str | None
) -> Envelope:
    """Decode and validate a binary-mode message straight from the Kafka record's parts.

    The same checks as :func:`decode_headers` then :func:`decode_data`, in one pass over the
    headers, without building the intermediate ``KafkaMessage`` and attribute dict (the
    Kafka bus decodes every record it consumes with this).

    Args:
        headers: ``(name, value)`` pairs as the Kafka client gives them (str, bytes).
        key: the record key (the job id), UTF-8 bytes or str; None is ``""``.
        value: the record value, the event data as JSON.

    Raises:
        ValueError: see :func:`decode_headers` and :func:`decode_data`.
    """
    envelope_class = _envelope_class or _load_envelope_class()
    attrs: dict[str, str] = {}
    ctype = JSON
    try:
        for name, raw in headers:
            attr = _HEADER_ATTRIBUTES.get(name)
            if attr is not None:  # a header as this codec writes it: the common case
                attrs[attr] = raw.decode()
            elif name == "content-type":
                ctype = raw.decode()
            else:
                lower = name.lower()
                if lower.startswith("ce_"):
                    attrs[lower[3:]] = raw.decode()
                elif lower == "content-type":
                    ctype = raw.decode()
    except UnicodeDecodeError as exc:
        raise ValueError(f"not a binary-mode CloudEvent: header is not UTF-8 ({exc})") from exc
    specversion = attrs.pop("specversion", None)
    if specversion != SPEC_VERSION:
        raise ValueError(f"not a binary-mode CloudEvent: specversion {specversion!r} is not 1.0")
    event_id, source, event_type = attrs.pop("id", ""), attrs.pop("source", ""), attrs.pop("type", "")
    for name, got in (("id", event_id), ("source", source), ("type", event_type)):
        if not got:
            raise ValueError(f"not a binary-mode CloudEvent: attribute {name!r} is missing")
    if ctype != JSON and not ctype.split(";", 1)[0].strip().endswith(("/json", "+json")):
        raise ValueError(f"CloudEvent data must be JSON, not {ctype!r}")
    data = decode_data(value)
    time = attrs.pop("time", "")
    subject = attrs.pop("subject", None)
    attrs.pop("datacontenttype", None)
    attrs.pop("partitionkey", None)
    return envelope_class(
        event_type,
        source,
        key.decode() if isinstance(key, bytes) else (key or ""),
        data,
        event_id,
        time,
        subject,
        attrs,  # what is left: the extensions
    )


_envelope_class: type[Envelope] | None = None


def _load_envelope_class() -> type[Envelope]:
    """``Envelope``, imported on first use (events.py imports this module) and kept: an import
    statement in :func:`decode` would cost a module lookup per event."""
    global _envelope_class
    from services.common.events import Envelope

    _envelope_class = Envelope
    return Envelope
