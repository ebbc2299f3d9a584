from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ResolveParamsRequest(_message.Message):
    __slots__ = ("params", "sample_rate")
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    params: FilterParams
    sample_rate: int
    def __init__(self, params: _Optional[_Union[FilterParams, _Mapping]] = ..., sample_rate: _Optional[int] = ...) -> None: ...

class ResolveParamsResponse(_message.Message):
    __slots__ = ("params", "sample_rate", "channels")
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    params: FilterParams
    sample_rate: int
    channels: int
    def __init__(self, params: _Optional[_Union[FilterParams, _Mapping]] = ..., sample_rate: _Optional[int] = ..., channels: _Optional[int] = ...) -> None: ...

class FilterParams(_message.Message):
    __slots__ = ("algorithm", "taps", "mu", "block_size", "delay", "unconstrained")
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    TAPS_FIELD_NUMBER: _ClassVar[int]
    MU_FIELD_NUMBER: _ClassVar[int]
    BLOCK_SIZE_FIELD_NUMBER: _ClassVar[int]
    DELAY_FIELD_NUMBER: _ClassVar[int]
    UNCONSTRAINED_FIELD_NUMBER: _ClassVar[int]
    algorithm: str
    taps: int
    mu: float
    block_size: int
    delay: int
    unconstrained: bool
    def __init__(self, algorithm: _Optional[str] = ..., taps: _Optional[int] = ..., mu: _Optional[float] = ..., block_size: _Optional[int] = ..., delay: _Optional[int] = ..., unconstrained: _Optional[bool] = ...) -> None: ...

class ProcessRequest(_message.Message):
    __slots__ = ("primary", "reference", "sample_rate", "params", "classify")
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    CLASSIFY_FIELD_NUMBER: _ClassVar[int]
    primary: bytes
    reference: bytes
    sample_rate: int
    params: FilterParams
    classify: bool
    def __init__(self, primary: _Optional[bytes] = ..., reference: _Optional[bytes] = ..., sample_rate: _Optional[int] = ..., params: _Optional[_Union[FilterParams, _Mapping]] = ..., classify: _Optional[bool] = ...) -> None: ...

class OctaveBand(_message.Message):
    __slots__ = ("centre_hz", "attenuation_db")
    CENTRE_HZ_FIELD_NUMBER: _ClassVar[int]
    ATTENUATION_DB_FIELD_NUMBER: _ClassVar[int]
    centre_hz: str
    attenuation_db: float
    def __init__(self, centre_hz: _Optional[str] = ..., attenuation_db: _Optional[float] = ...) -> None: ...

class Metrics(_message.Message):
    __slots__ = ("attenuation_db", "steady_state_attenuation_db", "octave_bands", "convergence_time_ms", "input_rms_db", "output_rms_db", "processing_ms", "realtime_factor", "resets", "samples")
    ATTENUATION_DB_FIELD_NUMBER: _ClassVar[int]
    STEADY_STATE_ATTENUATION_DB_FIELD_NUMBER: _ClassVar[int]
    OCTAVE_BANDS_FIELD_NUMBER: _ClassVar[int]
    CONVERGENCE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    INPUT_RMS_DB_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_RMS_DB_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_MS_FIELD_NUMBER: _ClassVar[int]
    REALTIME_FACTOR_FIELD_NUMBER: _ClassVar[int]
    RESETS_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    attenuation_db: float
    steady_state_attenuation_db: float
    octave_bands: _containers.RepeatedCompositeFieldContainer[OctaveBand]
    convergence_time_ms: float
    input_rms_db: float
    output_rms_db: float
    processing_ms: float
    realtime_factor: float
    resets: int
    samples: int
    def __init__(self, attenuation_db: _Optional[float] = ..., steady_state_attenuation_db: _Optional[float] = ..., octave_bands: _Optional[_Iterable[_Union[OctaveBand, _Mapping]]] = ..., convergence_time_ms: _Optional[float] = ..., input_rms_db: _Optional[float] = ..., output_rms_db: _Optional[float] = ..., processing_ms: _Optional[float] = ..., realtime_factor: _Optional[float] = ..., resets: _Optional[int] = ..., samples: _Optional[int] = ...) -> None: ...

class Classification(_message.Message):
    __slots__ = ("label", "confidence", "top_class", "probabilities", "emergency", "windows")
    class ProbabilitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    TOP_CLASS_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    EMERGENCY_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_FIELD_NUMBER: _ClassVar[int]
    label: str
    confidence: float
    top_class: str
    probabilities: _containers.ScalarMap[str, float]
    emergency: bool
    windows: int
    def __init__(self, label: _Optional[str] = ..., confidence: _Optional[float] = ..., top_class: _Optional[str] = ..., probabilities: _Optional[_Mapping[str, float]] = ..., emergency: _Optional[bool] = ..., windows: _Optional[int] = ...) -> None: ...

class ProcessResponse(_message.Message):
    __slots__ = ("output", "metrics", "algorithm", "params", "classification")
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    output: bytes
    metrics: Metrics
    algorithm: str
    params: FilterParams
    classification: Classification
    def __init__(self, output: _Optional[bytes] = ..., metrics: _Optional[_Union[Metrics, _Mapping]] = ..., algorithm: _Optional[str] = ..., params: _Optional[_Union[FilterParams, _Mapping]] = ..., classification: _Optional[_Union[Classification, _Mapping]] = ...) -> None: ...

class StreamConfig(_message.Message):
    __slots__ = ("session_id", "sample_rate", "params", "metrics_every")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    METRICS_EVERY_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    sample_rate: int
    params: FilterParams
    metrics_every: int
    def __init__(self, session_id: _Optional[str] = ..., sample_rate: _Optional[int] = ..., params: _Optional[_Union[FilterParams, _Mapping]] = ..., metrics_every: _Optional[int] = ...) -> None: ...

class AudioBlock(_message.Message):
    __slots__ = ("primary", "reference", "sequence")
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    primary: bytes
    reference: bytes
    sequence: int
    def __init__(self, primary: _Optional[bytes] = ..., reference: _Optional[bytes] = ..., sequence: _Optional[int] = ...) -> None: ...

class StreamRequest(_message.Message):
    __slots__ = ("config", "block")
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    config: StreamConfig
    block: AudioBlock
    def __init__(self, config: _Optional[_Union[StreamConfig, _Mapping]] = ..., block: _Optional[_Union[AudioBlock, _Mapping]] = ...) -> None: ...

class ProcessedBlock(_message.Message):
    __slots__ = ("audio", "sequence", "dsp_ms")
    AUDIO_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    DSP_MS_FIELD_NUMBER: _ClassVar[int]
    audio: bytes
    sequence: int
    dsp_ms: float
    def __init__(self, audio: _Optional[bytes] = ..., sequence: _Optional[int] = ..., dsp_ms: _Optional[float] = ...) -> None: ...

class StreamMetrics(_message.Message):
    __slots__ = ("blocks", "samples", "attenuation_db", "recent_attenuation_db", "convergence_time_ms", "dsp_ms_mean", "dsp_ms_max", "resets", "classification")
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    ATTENUATION_DB_FIELD_NUMBER: _ClassVar[int]
    RECENT_ATTENUATION_DB_FIELD_NUMBER: _ClassVar[int]
    CONVERGENCE_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    DSP_MS_MEAN_FIELD_NUMBER: _ClassVar[int]
    DSP_MS_MAX_FIELD_NUMBER: _ClassVar[int]
    RESETS_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    blocks: int
    samples: int
    attenuation_db: float
    recent_attenuation_db: float
    convergence_time_ms: float
    dsp_ms_mean: float
    dsp_ms_max: float
    resets: int
    classification: Classification
    def __init__(self, blocks: _Optional[int] = ..., samples: _Optional[int] = ..., attenuation_db: _Optional[float] = ..., recent_attenuation_db: _Optional[float] = ..., convergence_time_ms: _Optional[float] = ..., dsp_ms_mean: _Optional[float] = ..., dsp_ms_max: _Optional[float] = ..., resets: _Optional[int] = ..., classification: _Optional[_Union[Classification, _Mapping]] = ...) -> None: ...

class StreamError(_message.Message):
    __slots__ = ("error", "details", "sequence")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    error: str
    details: str
    sequence: int
    def __init__(self, error: _Optional[str] = ..., details: _Optional[str] = ..., sequence: _Optional[int] = ...) -> None: ...

class StreamResponse(_message.Message):
    __slots__ = ("block", "metrics", "error")
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    block: ProcessedBlock
    metrics: StreamMetrics
    error: StreamError
    def __init__(self, block: _Optional[_Union[ProcessedBlock, _Mapping]] = ..., metrics: _Optional[_Union[StreamMetrics, _Mapping]] = ..., error: _Optional[_Union[StreamError, _Mapping]] = ...) -> None: ...

class ClassifyRequest(_message.Message):
    __slots__ = ("samples", "sample_rate")
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_RATE_FIELD_NUMBER: _ClassVar[int]
    samples: bytes
    sample_rate: int
    def __init__(self, samples: _Optional[bytes] = ..., sample_rate: _Optional[int] = ...) -> None: ...

class ClassifyResponse(_message.Message):
    __slots__ = ("classification", "model", "processing_ms")
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_MS_FIELD_NUMBER: _ClassVar[int]
    classification: Classification
    model: str
    processing_ms: float
    def __init__(self, classification: _Optional[_Union[Classification, _Mapping]] = ..., model: _Optional[str] = ..., processing_ms: _Optional[float] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "version", "kind", "classes", "description", "parameters")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    kind: str
    classes: _containers.RepeatedScalarFieldContainer[str]
    description: str
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., kind: _Optional[str] = ..., classes: _Optional[_Iterable[str]] = ..., description: _Optional[str] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "default_algorithm", "algorithms", "fft_backend")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_ALGORITHM_FIELD_NUMBER: _ClassVar[int]
    ALGORITHMS_FIELD_NUMBER: _ClassVar[int]
    FFT_BACKEND_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    default_algorithm: str
    algorithms: _containers.RepeatedScalarFieldContainer[str]
    fft_backend: str
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ..., default_algorithm: _Optional[str] = ..., algorithms: _Optional[_Iterable[str]] = ..., fft_backend: _Optional[str] = ...) -> None: ...
