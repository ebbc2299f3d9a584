"""The bus's CloudEvents binary-mode codec against the CloudEvents SDK (the reference)."""

from __future__ import annotations

import json

import pytest
from cloudevents.http import CloudEvent
from cloudevents.kafka import KafkaMessage, from_binary, to_binary

from services.common import event_codec
from services.common.events import Envelope, TranscriptionRequested


def sdk_encode(e: Envelope) -> KafkaMessage:
    """What Envelope.to_message returned when it went through the SDK."""
    attributes = {
        "id": e.id,
        "source": e.source,
        "type": e.type,
        "specversion": "1.0",
        "time": e.time,
        "datacontenttype": "application/json",
        "partitionkey": e.key,
    }
    if e.subject:
        attributes["subject"] = e.subject
    attributes.update(e.extensions)
    compact = lambda d: json.dumps(d, separators=(",", ":")).encode()  # noqa: E731
    return to_binary(CloudEvent(attributes, e.data), data_marshaller=compact)


ENVELOPES = [
    Envelope(type="t.v1", source="/s", key="k", data={"n": 1, "t": "héllo ✓", "in": {"a": [1, 2.5, None]}}),
    Envelope.of(
        TranscriptionRequested(job_id="job-1", audio_key="uploads/job-1.flac"),
        "/earshot/gateway",
        traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01",
    ),
    Envelope(type="t.v1", source="/s", key="", data={}),
]


@pytest.mark.parametrize("envelope", ENVELOPES)
def test_encoding_is_byte_for_byte_the_sdks(envelope: Envelope) -> None:
    ours = envelope.to_message()
    ref = sdk_encode(envelope)
    assert list(ours.headers.items()) == list(ref.headers.items())  # same headers, same order
    assert ours.key == ref.key
    assert ours.value == ref.value


@pytest.mark.parametrize("envelope", ENVELOPES)
def test_sdk_messages_decode_to_the_same_envelope(envelope: Envelope) -> None:
    assert Envelope.from_message(sdk_encode(envelope)) == envelope
    sdk_view = from_binary(envelope.to_message())
    assert sdk_view["id"] == envelope.id and sdk_view["type"] == envelope.type
    assert sdk_view.get_data() == envelope.data


def message(**headers: bytes) -> KafkaMessage:
    base = {"ce_id": b"1", "ce_source": b"/s", "ce_type": b"t.v1", "ce_specversion": b"1.0"}
    base.update(headers)
    return KafkaMessage({k: v for k, v in base.items() if v != b"<drop>"}, b"k", b'{"a":1}')


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({"ce_id": b"<drop>"}, "'id' is missing"),
        ({"ce_source": b""}, "'source' is missing"),
        ({"ce_type": b"<drop>"}, "'type' is missing"),
        ({"ce_specversion": b"0.3"}, "specversion '0.3'"),
        ({"ce_specversion": b"<drop>"}, "specversion None"),
        ({"content-type": b"text/plain"}, "must be JSON"),
        ({"ce_subject": b"\xff\xfe"}, "not UTF-8"),
    ],
)
def test_invalid_attributes_are_refused(headers: dict[str, bytes], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Envelope.from_message(message(**headers))


@pytest.mark.parametrize(
    ("value", "error"), [(b"[1, 2]", "JSON object"), (b"{nope", "not JSON"), (b"\xff", "not JSON")]
)
def test_invalid_data_is_refused(value: bytes, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Envelope.from_message(KafkaMessage(message().headers, b"k", value))


def test_structured_json_content_types_and_empty_values_are_accepted() -> None:
    m = message(**{"content-type": b"application/cloudevents+json; charset=utf-8"})
    assert Envelope.from_message(KafkaMessage(m.headers, "k", b"")).data == {}


def test_unserialisable_data_is_refused_at_encoding() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        Envelope(type="t.v1", source="/s", key="k", data={"x": object()}).to_message()
    with pytest.raises(ValueError, match="non-empty id"):
        event_codec.encode(Envelope(type="", source="/s", key="k", data={}))


@pytest.mark.parametrize("envelope", ENVELOPES)
def test_records_decode_from_their_header_pairs(envelope: Envelope) -> None:
    """The Kafka bus decodes the record's (str, bytes) header list directly, key as bytes."""
    m = envelope.to_message()
    decoded = event_codec.decode(list(m.headers.items()), envelope.key.encode(), m.value)
    assert decoded == envelope


def test_header_names_are_case_insensitive_and_unknown_headers_ignored() -> None:
    headers = [
        ("CE_ID", b"1"),
        ("Ce_Source", b"/s"),
        ("ce_type", b"t.v1"),
        ("ce_specversion", b"1.0"),
        ("Content-Type", b"application/json"),
        ("ce_TraceParent", b"00-" + b"1" * 32 + b"-" + b"2" * 16 + b"-01"),
        ("x-other", b"ignored"),
    ]
    e = event_codec.decode(headers, None, b'{"a":1}')
    assert (e.id, e.source, e.type, e.key, e.data) == ("1", "/s", "t.v1", "", {"a": 1})
    assert e.extensions == {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}
    with pytest.raises(ValueError, match="must be JSON"):
        event_codec.decode([*headers[:4], ("CONTENT-TYPE", b"text/plain")], None, b"{}")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b'{"x":NaN}', "nan"),  # json.dumps writes NaN, orjson refuses it: json reads it
        (b'{"x":123456789012345678901234567890}', 123456789012345678901234567890),
        (b'{"x":"caf\\u00e9","y":[1,2.5,null,true]}', {"x": "café", "y": [1, 2.5, None, True]}),
    ],
)
def test_decode_data_reads_what_json_dumps_writes(value: bytes, expected: object) -> None:
    got = event_codec.decode_data(value)
    if expected == "nan":
        assert got["x"] != got["x"]
    elif isinstance(expected, dict):
        assert got == expected
    else:
        assert got["x"] == expected


@pytest.mark.parametrize("value", [b"\xff\xfe", b"[1,2]", b'{"a":', "{'a': 1}"])
def test_decode_data_refuses_what_is_not_a_json_object(value: bytes | str) -> None:
    with pytest.raises(ValueError):
        event_codec.decode_data(value)


def test_encode_is_encode_value_plus_encode_headers() -> None:
    e = Envelope(
        type="t.v1", source="/s", key="k", data={"n": 1}, subject="k", extensions={"traceparent": "x"}
    )
    message = event_codec.encode(e)
    assert message.value == event_codec.encode_value(e)
    assert message.headers == event_codec.encode_headers(
        e.id, e.source, e.type, e.time, e.subject, e.extensions.items()
    )
