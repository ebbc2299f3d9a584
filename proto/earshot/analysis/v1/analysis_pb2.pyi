from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AnalyzeRequest(_message.Message):
    __slots__ = ("kind", "transcript_json", "transcript_key", "text", "audio_key", "options")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_JSON_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_KEY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_KEY_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    transcript_json: str
    transcript_key: str
    text: str
    audio_key: str
    options: _struct_pb2.Struct
    def __init__(self, kind: _Optional[str] = ..., transcript_json: _Optional[str] = ..., transcript_key: _Optional[str] = ..., text: _Optional[str] = ..., audio_key: _Optional[str] = ..., options: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class AnalyzeResponse(_message.Message):
    __slots__ = ("kind", "analyzer", "result", "processing_s")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    kind: str
    analyzer: str
    result: _struct_pb2.Struct
    processing_s: float
    def __init__(self, kind: _Optional[str] = ..., analyzer: _Optional[str] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., processing_s: _Optional[float] = ...) -> None: ...
