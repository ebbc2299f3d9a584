from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Word(_message.Message):
    __slots__ = ("word", "start", "end", "probability")
    WORD_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    word: str
    start: float
    end: float
    probability: float
    def __init__(self, word: _Optional[str] = ..., start: _Optional[float] = ..., end: _Optional[float] = ..., probability: _Optional[float] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("id", "start", "end", "text", "speaker", "words")
    ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    id: int
    start: float
    end: float
    text: str
    speaker: str
    words: _containers.RepeatedCompositeFieldContainer[Word]
    def __init__(self, id: _Optional[int] = ..., start: _Optional[float] = ..., end: _Optional[float] = ..., text: _Optional[str] = ..., speaker: _Optional[str] = ..., words: _Optional[_Iterable[_Union[Word, _Mapping]]] = ...) -> None: ...

class Transcript(_message.Message):
    __slots__ = ("language", "duration", "text", "segments", "words", "speech")
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    SPEECH_FIELD_NUMBER: _ClassVar[int]
    language: str
    duration: float
    text: str
    segments: _containers.RepeatedCompositeFieldContainer[Segment]
    words: _containers.RepeatedCompositeFieldContainer[Word]
    speech: _containers.RepeatedCompositeFieldContainer[SpeechInterval]
    def __init__(self, language: _Optional[str] = ..., duration: _Optional[float] = ..., text: _Optional[str] = ..., segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ..., words: _Optional[_Iterable[_Union[Word, _Mapping]]] = ..., speech: _Optional[_Iterable[_Union[SpeechInterval, _Mapping]]] = ...) -> None: ...

class SpeechInterval(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: float
    end: float
    def __init__(self, start: _Optional[float] = ..., end: _Optional[float] = ...) -> None: ...

class KeyConcept(_message.Message):
    __slots__ = ("name", "synonyms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SYNONYMS_FIELD_NUMBER: _ClassVar[int]
    name: str
    synonyms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., synonyms: _Optional[_Iterable[str]] = ...) -> None: ...

class TranscriptSource(_message.Message):
    __slots__ = ("transcript", "transcript_key")
    TRANSCRIPT_FIELD_NUMBER: _ClassVar[int]
    TRANSCRIPT_KEY_FIELD_NUMBER: _ClassVar[int]
    transcript: Transcript
    transcript_key: str
    def __init__(self, transcript: _Optional[_Union[Transcript, _Mapping]] = ..., transcript_key: _Optional[str] = ...) -> None: ...

class Template(_message.Message):
    __slots__ = ("id", "title", "description", "summary_prompt", "key_points_prompt", "keywords")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_PROMPT_FIELD_NUMBER: _ClassVar[int]
    KEY_POINTS_PROMPT_FIELD_NUMBER: _ClassVar[int]
    KEYWORDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    description: str
    summary_prompt: str
    key_points_prompt: _containers.RepeatedScalarFieldContainer[str]
    keywords: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., summary_prompt: _Optional[str] = ..., key_points_prompt: _Optional[_Iterable[str]] = ..., keywords: _Optional[_Iterable[str]] = ...) -> None: ...

class Resume(_message.Message):
    __slots__ = ("text", "skills", "years_experience")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    YEARS_EXPERIENCE_FIELD_NUMBER: _ClassVar[int]
    text: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    years_experience: float
    def __init__(self, text: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ..., years_experience: _Optional[float] = ...) -> None: ...

class TemperatureRequest(_message.Message):
    __slots__ = ("input", "audio_key")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    AUDIO_KEY_FIELD_NUMBER: _ClassVar[int]
    input: TranscriptSource
    audio_key: str
    def __init__(self, input: _Optional[_Union[TranscriptSource, _Mapping]] = ..., audio_key: _Optional[str] = ...) -> None: ...

class MeetingRequest(_message.Message):
    __slots__ = ("input", "meeting_date", "template", "templates")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    MEETING_DATE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_FIELD_NUMBER: _ClassVar[int]
    TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    input: TranscriptSource
    meeting_date: str
    template: Template
    templates: _containers.RepeatedCompositeFieldContainer[Template]
    def __init__(self, input: _Optional[_Union[TranscriptSource, _Mapping]] = ..., meeting_date: _Optional[str] = ..., template: _Optional[_Union[Template, _Mapping]] = ..., templates: _Optional[_Iterable[_Union[Template, _Mapping]]] = ...) -> None: ...

class PaceRequest(_message.Message):
    __slots__ = ("input", "window_s")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    input: TranscriptSource
    window_s: float
    def __init__(self, input: _Optional[_Union[TranscriptSource, _Mapping]] = ..., window_s: _Optional[float] = ...) -> None: ...

class PauseRequest(_message.Message):
    __slots__ = ("input",)
    INPUT_FIELD_NUMBER: _ClassVar[int]
    input: TranscriptSource
    def __init__(self, input: _Optional[_Union[TranscriptSource, _Mapping]] = ...) -> None: ...

class CommunicationRequest(_message.Message):
    __slots__ = ("input",)
    INPUT_FIELD_NUMBER: _ClassVar[int]
    input: TranscriptSource
    def __init__(self, input: _Optional[_Union[TranscriptSource, _Mapping]] = ...) -> None: ...

class DomainRequest(_message.Message):
    __slots__ = ("input", "question", "expected_concepts", "key_concepts")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CONCEPTS_FIELD_NUMBER: _ClassVar[int]
    KEY_CONCEPTS_FIELD_NUMBER: _ClassVar[int]
    input: TranscriptSource
    question: str
    expected_concepts: _containers.RepeatedScalarFieldContainer[str]
    key_concepts: _containers.RepeatedCompositeFieldContainer[KeyConcept]
    def __init__(self, input: _Optional[_Union[TranscriptSource, _Mapping]] = ..., question: _Optional[str] = ..., expected_concepts: _Optional[_Iterable[str]] = ..., key_concepts: _Optional[_Iterable[_Union[KeyConcept, _Mapping]]] = ...) -> None: ...

class InterviewRequest(_message.Message):
    __slots__ = ("input", "question", "expected_concepts", "analysis_types", "window_s", "key_concepts")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CONCEPTS_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_TYPES_FIELD_NUMBER: _ClassVar[int]
    WINDOW_S_FIELD_NUMBER: _ClassVar[int]
    KEY_CONCEPTS_FIELD_NUMBER: _ClassVar[int]
    input: TranscriptSource
    question: str
    expected_concepts: _containers.RepeatedScalarFieldContainer[str]
    analysis_types: _containers.RepeatedScalarFieldContainer[str]
    window_s: float
    key_concepts: _containers.RepeatedCompositeFieldContainer[KeyConcept]
    def __init__(self, input: _Optional[_Union[TranscriptSource, _Mapping]] = ..., question: _Optional[str] = ..., expected_concepts: _Optional[_Iterable[str]] = ..., analysis_types: _Optional[_Iterable[str]] = ..., window_s: _Optional[float] = ..., key_concepts: _Optional[_Iterable[_Union[KeyConcept, _Mapping]]] = ...) -> None: ...

class GenerateQuestionsRequest(_message.Message):
    __slots__ = ("resume", "track", "count", "seed")
    RESUME_FIELD_NUMBER: _ClassVar[int]
    TRACK_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    resume: Resume
    track: str
    count: int
    seed: int
    def __init__(self, resume: _Optional[_Union[Resume, _Mapping]] = ..., track: _Optional[str] = ..., count: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class ResumeFile(_message.Message):
    __slots__ = ("data",)
    DATA_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    def __init__(self, data: _Optional[bytes] = ...) -> None: ...

class KnowledgeSetRequest(_message.Message):
    __slots__ = ("skills",)
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    skills: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, skills: _Optional[_Iterable[str]] = ...) -> None: ...

class ResumeSkillsRequest(_message.Message):
    __slots__ = ("resume",)
    RESUME_FIELD_NUMBER: _ClassVar[int]
    resume: Resume
    def __init__(self, resume: _Optional[_Union[Resume, _Mapping]] = ...) -> None: ...

class SessionReportRequest(_message.Message):
    __slots__ = ("attempts",)
    class Attempt(_message.Message):
        __slots__ = ("question", "analysis", "question_id")
        QUESTION_FIELD_NUMBER: _ClassVar[int]
        ANALYSIS_FIELD_NUMBER: _ClassVar[int]
        QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
        question: str
        analysis: InterviewAnalysis
        question_id: int
        def __init__(self, question: _Optional[str] = ..., analysis: _Optional[_Union[InterviewAnalysis, _Mapping]] = ..., question_id: _Optional[int] = ...) -> None: ...
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    attempts: _containers.RepeatedCompositeFieldContainer[SessionReportRequest.Attempt]
    def __init__(self, attempts: _Optional[_Iterable[_Union[SessionReportRequest.Attempt, _Mapping]]] = ...) -> None: ...

class SuggestTemplateRequest(_message.Message):
    __slots__ = ("input", "templates")
    INPUT_FIELD_NUMBER: _ClassVar[int]
    TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    input: TranscriptSource
    templates: _containers.RepeatedCompositeFieldContainer[Template]
    def __init__(self, input: _Optional[_Union[TranscriptSource, _Mapping]] = ..., templates: _Optional[_Iterable[_Union[Template, _Mapping]]] = ...) -> None: ...

class SuggestTitleRequest(_message.Message):
    __slots__ = ("input",)
    INPUT_FIELD_NUMBER: _ClassVar[int]
    input: TranscriptSource
    def __init__(self, input: _Optional[_Union[TranscriptSource, _Mapping]] = ...) -> None: ...

class SuggestDescriptionRequest(_message.Message):
    __slots__ = ("input",)
    INPUT_FIELD_NUMBER: _ClassVar[int]
    input: TranscriptSource
    def __init__(self, input: _Optional[_Union[TranscriptSource, _Mapping]] = ...) -> None: ...

class TemperatureAnalysis(_message.Message):
    __slots__ = ("temperature", "confidence", "analysis_summary", "drivers", "components", "features", "language", "analyzer", "processing_s")
    class DriversEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class ComponentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class FeaturesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    ANALYSIS_SUMMARY_FIELD_NUMBER: _ClassVar[int]
    DRIVERS_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    temperature: int
    confidence: float
    analysis_summary: str
    drivers: _containers.ScalarMap[str, float]
    components: _containers.ScalarMap[str, float]
    features: _containers.ScalarMap[str, float]
    language: str
    analyzer: str
    processing_s: float
    def __init__(self, temperature: _Optional[int] = ..., confidence: _Optional[float] = ..., analysis_summary: _Optional[str] = ..., drivers: _Optional[_Mapping[str, float]] = ..., components: _Optional[_Mapping[str, float]] = ..., features: _Optional[_Mapping[str, float]] = ..., language: _Optional[str] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ...) -> None: ...

class ActionItem(_message.Message):
    __slots__ = ("task", "assigned_to", "due_date")
    TASK_FIELD_NUMBER: _ClassVar[int]
    ASSIGNED_TO_FIELD_NUMBER: _ClassVar[int]
    DUE_DATE_FIELD_NUMBER: _ClassVar[int]
    task: str
    assigned_to: str
    due_date: str
    def __init__(self, task: _Optional[str] = ..., assigned_to: _Optional[str] = ..., due_date: _Optional[str] = ...) -> None: ...

class AlternativeTemplate(_message.Message):
    __slots__ = ("template_id", "template_name", "confidence")
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    template_id: str
    template_name: str
    confidence: float
    def __init__(self, template_id: _Optional[str] = ..., template_name: _Optional[str] = ..., confidence: _Optional[float] = ...) -> None: ...

class TemplateSuggestion(_message.Message):
    __slots__ = ("suggested_template_id", "suggested_template_name", "confidence", "reason", "alternative_templates", "analyzer", "processing_s")
    SUGGESTED_TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_TEMPLATE_NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVE_TEMPLATES_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    suggested_template_id: str
    suggested_template_name: str
    confidence: float
    reason: str
    alternative_templates: _containers.RepeatedCompositeFieldContainer[AlternativeTemplate]
    analyzer: str
    processing_s: float
    def __init__(self, suggested_template_id: _Optional[str] = ..., suggested_template_name: _Optional[str] = ..., confidence: _Optional[float] = ..., reason: _Optional[str] = ..., alternative_templates: _Optional[_Iterable[_Union[AlternativeTemplate, _Mapping]]] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ...) -> None: ...

class MeetingAnalysis(_message.Message):
    __slots__ = ("language", "language_confidence", "title", "description", "summary", "key_points", "keyphrases", "action_items", "template_suggestion", "template_id", "meeting_date", "chunks", "analyzer", "processing_s", "speaker_names", "analytics")
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    KEY_POINTS_FIELD_NUMBER: _ClassVar[int]
    KEYPHRASES_FIELD_NUMBER: _ClassVar[int]
    ACTION_ITEMS_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_SUGGESTION_FIELD_NUMBER: _ClassVar[int]
    TEMPLATE_ID_FIELD_NUMBER: _ClassVar[int]
    MEETING_DATE_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_NAMES_FIELD_NUMBER: _ClassVar[int]
    ANALYTICS_FIELD_NUMBER: _ClassVar[int]
    language: str
    language_confidence: float
    title: str
    description: str
    summary: str
    key_points: _containers.RepeatedScalarFieldContainer[str]
    keyphrases: _containers.RepeatedScalarFieldContainer[str]
    action_items: _containers.RepeatedCompositeFieldContainer[ActionItem]
    template_suggestion: TemplateSuggestion
    template_id: str
    meeting_date: str
    chunks: int
    analyzer: str
    processing_s: float
    speaker_names: _containers.RepeatedCompositeFieldContainer[SpeakerName]
    analytics: _struct_pb2.Struct
    def __init__(self, language: _Optional[str] = ..., language_confidence: _Optional[float] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., summary: _Optional[str] = ..., key_points: _Optional[_Iterable[str]] = ..., keyphrases: _Optional[_Iterable[str]] = ..., action_items: _Optional[_Iterable[_Union[ActionItem, _Mapping]]] = ..., template_suggestion: _Optional[_Union[TemplateSuggestion, _Mapping]] = ..., template_id: _Optional[str] = ..., meeting_date: _Optional[str] = ..., chunks: _Optional[int] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ..., speaker_names: _Optional[_Iterable[_Union[SpeakerName, _Mapping]]] = ..., analytics: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class SpeakerName(_message.Message):
    __slots__ = ("label", "name", "confidence", "evidence")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    label: str
    name: str
    confidence: float
    evidence: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, label: _Optional[str] = ..., name: _Optional[str] = ..., confidence: _Optional[float] = ..., evidence: _Optional[_Iterable[str]] = ...) -> None: ...

class PaceWindow(_message.Message):
    __slots__ = ("start", "end", "words", "wpm", "band")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    WPM_FIELD_NUMBER: _ClassVar[int]
    BAND_FIELD_NUMBER: _ClassVar[int]
    start: float
    end: float
    words: int
    wpm: float
    band: str
    def __init__(self, start: _Optional[float] = ..., end: _Optional[float] = ..., words: _Optional[int] = ..., wpm: _Optional[float] = ..., band: _Optional[str] = ...) -> None: ...

class PaceAnalysis(_message.Message):
    __slots__ = ("words", "speaking_span_s", "wpm", "band", "over_time", "score", "feedback", "analyzer", "processing_s")
    WORDS_FIELD_NUMBER: _ClassVar[int]
    SPEAKING_SPAN_S_FIELD_NUMBER: _ClassVar[int]
    WPM_FIELD_NUMBER: _ClassVar[int]
    BAND_FIELD_NUMBER: _ClassVar[int]
    OVER_TIME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    words: int
    speaking_span_s: float
    wpm: float
    band: str
    over_time: _containers.RepeatedCompositeFieldContainer[PaceWindow]
    score: int
    feedback: str
    analyzer: str
    processing_s: float
    def __init__(self, words: _Optional[int] = ..., speaking_span_s: _Optional[float] = ..., wpm: _Optional[float] = ..., band: _Optional[str] = ..., over_time: _Optional[_Iterable[_Union[PaceWindow, _Mapping]]] = ..., score: _Optional[int] = ..., feedback: _Optional[str] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ...) -> None: ...

class Pause(_message.Message):
    __slots__ = ("start", "end", "duration", "after_word")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    AFTER_WORD_FIELD_NUMBER: _ClassVar[int]
    start: float
    end: float
    duration: float
    after_word: str
    def __init__(self, start: _Optional[float] = ..., end: _Optional[float] = ..., duration: _Optional[float] = ..., after_word: _Optional[str] = ...) -> None: ...

class PauseAnalysis(_message.Message):
    __slots__ = ("pause_count", "total_pause_s", "mean_pause_s", "max_pause_s", "long_pauses", "pauses_per_minute", "speaking_time_s", "speaking_ratio", "score", "feedback", "source", "pauses", "filled_pauses", "filled_pause_breakdown", "analyzer", "processing_s")
    class FilledPauseBreakdownEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    PAUSE_COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PAUSE_S_FIELD_NUMBER: _ClassVar[int]
    MEAN_PAUSE_S_FIELD_NUMBER: _ClassVar[int]
    MAX_PAUSE_S_FIELD_NUMBER: _ClassVar[int]
    LONG_PAUSES_FIELD_NUMBER: _ClassVar[int]
    PAUSES_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    SPEAKING_TIME_S_FIELD_NUMBER: _ClassVar[int]
    SPEAKING_RATIO_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    PAUSES_FIELD_NUMBER: _ClassVar[int]
    FILLED_PAUSES_FIELD_NUMBER: _ClassVar[int]
    FILLED_PAUSE_BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    pause_count: int
    total_pause_s: float
    mean_pause_s: float
    max_pause_s: float
    long_pauses: _containers.RepeatedCompositeFieldContainer[Pause]
    pauses_per_minute: float
    speaking_time_s: float
    speaking_ratio: float
    score: int
    feedback: str
    source: str
    pauses: _containers.RepeatedCompositeFieldContainer[Pause]
    filled_pauses: int
    filled_pause_breakdown: _containers.ScalarMap[str, int]
    analyzer: str
    processing_s: float
    def __init__(self, pause_count: _Optional[int] = ..., total_pause_s: _Optional[float] = ..., mean_pause_s: _Optional[float] = ..., max_pause_s: _Optional[float] = ..., long_pauses: _Optional[_Iterable[_Union[Pause, _Mapping]]] = ..., pauses_per_minute: _Optional[float] = ..., speaking_time_s: _Optional[float] = ..., speaking_ratio: _Optional[float] = ..., score: _Optional[int] = ..., feedback: _Optional[str] = ..., source: _Optional[str] = ..., pauses: _Optional[_Iterable[_Union[Pause, _Mapping]]] = ..., filled_pauses: _Optional[int] = ..., filled_pause_breakdown: _Optional[_Mapping[str, int]] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ...) -> None: ...

class CommunicationAnalysis(_message.Message):
    __slots__ = ("score", "clarity", "structure", "vocabulary", "filler_words", "filler_breakdown", "mean_sentence_words", "feedback", "fillers_per_minute", "hedges", "signposts", "has_conclusion", "longest_sentence_words", "suggestions", "analyzer", "processing_s")
    class FillerBreakdownEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class HedgesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SCORE_FIELD_NUMBER: _ClassVar[int]
    CLARITY_FIELD_NUMBER: _ClassVar[int]
    STRUCTURE_FIELD_NUMBER: _ClassVar[int]
    VOCABULARY_FIELD_NUMBER: _ClassVar[int]
    FILLER_WORDS_FIELD_NUMBER: _ClassVar[int]
    FILLER_BREAKDOWN_FIELD_NUMBER: _ClassVar[int]
    MEAN_SENTENCE_WORDS_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    FILLERS_PER_MINUTE_FIELD_NUMBER: _ClassVar[int]
    HEDGES_FIELD_NUMBER: _ClassVar[int]
    SIGNPOSTS_FIELD_NUMBER: _ClassVar[int]
    HAS_CONCLUSION_FIELD_NUMBER: _ClassVar[int]
    LONGEST_SENTENCE_WORDS_FIELD_NUMBER: _ClassVar[int]
    SUGGESTIONS_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    score: int
    clarity: int
    structure: int
    vocabulary: int
    filler_words: int
    filler_breakdown: _containers.ScalarMap[str, int]
    mean_sentence_words: float
    feedback: str
    fillers_per_minute: float
    hedges: _containers.ScalarMap[str, int]
    signposts: _containers.RepeatedScalarFieldContainer[str]
    has_conclusion: bool
    longest_sentence_words: int
    suggestions: _containers.RepeatedCompositeFieldContainer[Suggestion]
    analyzer: str
    processing_s: float
    def __init__(self, score: _Optional[int] = ..., clarity: _Optional[int] = ..., structure: _Optional[int] = ..., vocabulary: _Optional[int] = ..., filler_words: _Optional[int] = ..., filler_breakdown: _Optional[_Mapping[str, int]] = ..., mean_sentence_words: _Optional[float] = ..., feedback: _Optional[str] = ..., fillers_per_minute: _Optional[float] = ..., hedges: _Optional[_Mapping[str, int]] = ..., signposts: _Optional[_Iterable[str]] = ..., has_conclusion: _Optional[bool] = ..., longest_sentence_words: _Optional[int] = ..., suggestions: _Optional[_Iterable[_Union[Suggestion, _Mapping]]] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ...) -> None: ...

class Suggestion(_message.Message):
    __slots__ = ("issue", "quote", "tip")
    ISSUE_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    TIP_FIELD_NUMBER: _ClassVar[int]
    issue: str
    quote: str
    tip: str
    def __init__(self, issue: _Optional[str] = ..., quote: _Optional[str] = ..., tip: _Optional[str] = ...) -> None: ...

class DomainAnalysis(_message.Message):
    __slots__ = ("score", "covered_concepts", "missing_concepts", "feedback", "partially_covered", "relevance", "evidence", "analyzer", "processing_s")
    class EvidenceEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SCORE_FIELD_NUMBER: _ClassVar[int]
    COVERED_CONCEPTS_FIELD_NUMBER: _ClassVar[int]
    MISSING_CONCEPTS_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    PARTIALLY_COVERED_FIELD_NUMBER: _ClassVar[int]
    RELEVANCE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    score: int
    covered_concepts: _containers.RepeatedScalarFieldContainer[str]
    missing_concepts: _containers.RepeatedScalarFieldContainer[str]
    feedback: str
    partially_covered: _containers.RepeatedScalarFieldContainer[str]
    relevance: float
    evidence: _containers.ScalarMap[str, str]
    analyzer: str
    processing_s: float
    def __init__(self, score: _Optional[int] = ..., covered_concepts: _Optional[_Iterable[str]] = ..., missing_concepts: _Optional[_Iterable[str]] = ..., feedback: _Optional[str] = ..., partially_covered: _Optional[_Iterable[str]] = ..., relevance: _Optional[float] = ..., evidence: _Optional[_Mapping[str, str]] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ...) -> None: ...

class AnalysisStatus(_message.Message):
    __slots__ = ("analysis_type", "status", "error", "details", "time_ms")
    ANALYSIS_TYPE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    analysis_type: str
    status: str
    error: str
    details: str
    time_ms: float
    def __init__(self, analysis_type: _Optional[str] = ..., status: _Optional[str] = ..., error: _Optional[str] = ..., details: _Optional[str] = ..., time_ms: _Optional[float] = ...) -> None: ...

class InterviewAnalysis(_message.Message):
    __slots__ = ("language", "domain", "communication", "pace", "pause", "statuses", "requested", "completed", "failed", "total_ms", "analyzer", "processing_s")
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    COMMUNICATION_FIELD_NUMBER: _ClassVar[int]
    PACE_FIELD_NUMBER: _ClassVar[int]
    PAUSE_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_MS_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    language: str
    domain: DomainAnalysis
    communication: CommunicationAnalysis
    pace: PaceAnalysis
    pause: PauseAnalysis
    statuses: _containers.RepeatedCompositeFieldContainer[AnalysisStatus]
    requested: _containers.RepeatedScalarFieldContainer[str]
    completed: _containers.RepeatedScalarFieldContainer[str]
    failed: _containers.RepeatedScalarFieldContainer[str]
    total_ms: float
    analyzer: str
    processing_s: float
    def __init__(self, language: _Optional[str] = ..., domain: _Optional[_Union[DomainAnalysis, _Mapping]] = ..., communication: _Optional[_Union[CommunicationAnalysis, _Mapping]] = ..., pace: _Optional[_Union[PaceAnalysis, _Mapping]] = ..., pause: _Optional[_Union[PauseAnalysis, _Mapping]] = ..., statuses: _Optional[_Iterable[_Union[AnalysisStatus, _Mapping]]] = ..., requested: _Optional[_Iterable[str]] = ..., completed: _Optional[_Iterable[str]] = ..., failed: _Optional[_Iterable[str]] = ..., total_ms: _Optional[float] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ...) -> None: ...

class Question(_message.Message):
    __slots__ = ("text", "topic", "category", "difficulty", "expected_concepts", "key_concepts")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DIFFICULTY_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_CONCEPTS_FIELD_NUMBER: _ClassVar[int]
    KEY_CONCEPTS_FIELD_NUMBER: _ClassVar[int]
    text: str
    topic: str
    category: str
    difficulty: str
    expected_concepts: _containers.RepeatedScalarFieldContainer[str]
    key_concepts: _containers.RepeatedCompositeFieldContainer[KeyConcept]
    def __init__(self, text: _Optional[str] = ..., topic: _Optional[str] = ..., category: _Optional[str] = ..., difficulty: _Optional[str] = ..., expected_concepts: _Optional[_Iterable[str]] = ..., key_concepts: _Optional[_Iterable[_Union[KeyConcept, _Mapping]]] = ...) -> None: ...

class QuestionSet(_message.Message):
    __slots__ = ("track", "skills", "years_experience", "questions", "analyzer", "processing_s")
    TRACK_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    YEARS_EXPERIENCE_FIELD_NUMBER: _ClassVar[int]
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    track: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    years_experience: float
    questions: _containers.RepeatedCompositeFieldContainer[Question]
    analyzer: str
    processing_s: float
    def __init__(self, track: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ..., years_experience: _Optional[float] = ..., questions: _Optional[_Iterable[_Union[Question, _Mapping]]] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ...) -> None: ...

class ResumeSkills(_message.Message):
    __slots__ = ("skills", "years_experience", "analyzer", "processing_s")
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    YEARS_EXPERIENCE_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    skills: _containers.RepeatedScalarFieldContainer[str]
    years_experience: float
    analyzer: str
    processing_s: float
    def __init__(self, skills: _Optional[_Iterable[str]] = ..., years_experience: _Optional[float] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ...) -> None: ...

class QuestionScores(_message.Message):
    __slots__ = ("question", "scores", "missing", "index", "question_id", "overall", "failed", "wpm", "pause_count", "long_pauses", "speaking_ratio")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    QUESTION_ID_FIELD_NUMBER: _ClassVar[int]
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    WPM_FIELD_NUMBER: _ClassVar[int]
    PAUSE_COUNT_FIELD_NUMBER: _ClassVar[int]
    LONG_PAUSES_FIELD_NUMBER: _ClassVar[int]
    SPEAKING_RATIO_FIELD_NUMBER: _ClassVar[int]
    question: str
    scores: _containers.ScalarMap[str, int]
    missing: _containers.RepeatedScalarFieldContainer[str]
    index: int
    question_id: int
    overall: int
    failed: _containers.RepeatedScalarFieldContainer[str]
    wpm: float
    pause_count: int
    long_pauses: int
    speaking_ratio: float
    def __init__(self, question: _Optional[str] = ..., scores: _Optional[_Mapping[str, int]] = ..., missing: _Optional[_Iterable[str]] = ..., index: _Optional[int] = ..., question_id: _Optional[int] = ..., overall: _Optional[int] = ..., failed: _Optional[_Iterable[str]] = ..., wpm: _Optional[float] = ..., pause_count: _Optional[int] = ..., long_pauses: _Optional[int] = ..., speaking_ratio: _Optional[float] = ...) -> None: ...

class WorkItem(_message.Message):
    __slots__ = ("dimension", "issue", "example", "question", "tip")
    DIMENSION_FIELD_NUMBER: _ClassVar[int]
    ISSUE_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    TIP_FIELD_NUMBER: _ClassVar[int]
    dimension: str
    issue: str
    example: str
    question: str
    tip: str
    def __init__(self, dimension: _Optional[str] = ..., issue: _Optional[str] = ..., example: _Optional[str] = ..., question: _Optional[str] = ..., tip: _Optional[str] = ...) -> None: ...

class DeliveryTrend(_message.Message):
    __slots__ = ("values", "mean", "min", "max")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    mean: float
    min: float
    max: float
    def __init__(self, values: _Optional[_Iterable[float]] = ..., mean: _Optional[float] = ..., min: _Optional[float] = ..., max: _Optional[float] = ...) -> None: ...

class SessionReport(_message.Message):
    __slots__ = ("overall_score", "dimension_scores", "strengths", "improvements", "per_question", "summary", "answered", "things_to_work_on", "pace_over_session", "pauses_over_session", "long_pauses_over_session", "recommended_practice", "analyzer", "processing_s")
    class DimensionScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    OVERALL_SCORE_FIELD_NUMBER: _ClassVar[int]
    DIMENSION_SCORES_FIELD_NUMBER: _ClassVar[int]
    STRENGTHS_FIELD_NUMBER: _ClassVar[int]
    IMPROVEMENTS_FIELD_NUMBER: _ClassVar[int]
    PER_QUESTION_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ANSWERED_FIELD_NUMBER: _ClassVar[int]
    THINGS_TO_WORK_ON_FIELD_NUMBER: _ClassVar[int]
    PACE_OVER_SESSION_FIELD_NUMBER: _ClassVar[int]
    PAUSES_OVER_SESSION_FIELD_NUMBER: _ClassVar[int]
    LONG_PAUSES_OVER_SESSION_FIELD_NUMBER: _ClassVar[int]
    RECOMMENDED_PRACTICE_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    overall_score: int
    dimension_scores: _containers.ScalarMap[str, int]
    strengths: _containers.RepeatedScalarFieldContainer[str]
    improvements: _containers.RepeatedScalarFieldContainer[str]
    per_question: _containers.RepeatedCompositeFieldContainer[QuestionScores]
    summary: str
    answered: int
    things_to_work_on: _containers.RepeatedCompositeFieldContainer[WorkItem]
    pace_over_session: DeliveryTrend
    pauses_over_session: DeliveryTrend
    long_pauses_over_session: DeliveryTrend
    recommended_practice: _containers.RepeatedScalarFieldContainer[str]
    analyzer: str
    processing_s: float
    def __init__(self, overall_score: _Optional[int] = ..., dimension_scores: _Optional[_Mapping[str, int]] = ..., strengths: _Optional[_Iterable[str]] = ..., improvements: _Optional[_Iterable[str]] = ..., per_question: _Optional[_Iterable[_Union[QuestionScores, _Mapping]]] = ..., summary: _Optional[str] = ..., answered: _Optional[int] = ..., things_to_work_on: _Optional[_Iterable[_Union[WorkItem, _Mapping]]] = ..., pace_over_session: _Optional[_Union[DeliveryTrend, _Mapping]] = ..., pauses_over_session: _Optional[_Union[DeliveryTrend, _Mapping]] = ..., long_pauses_over_session: _Optional[_Union[DeliveryTrend, _Mapping]] = ..., recommended_practice: _Optional[_Iterable[str]] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ...) -> None: ...

class RenderReportRequest(_message.Message):
    __slots__ = ("report", "format", "title")
    REPORT_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    report: SessionReport
    format: str
    title: str
    def __init__(self, report: _Optional[_Union[SessionReport, _Mapping]] = ..., format: _Optional[str] = ..., title: _Optional[str] = ...) -> None: ...

class RenderedReport(_message.Message):
    __slots__ = ("content", "media_type")
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    content: bytes
    media_type: str
    def __init__(self, content: _Optional[bytes] = ..., media_type: _Optional[str] = ...) -> None: ...

class ExperienceRange(_message.Message):
    __slots__ = ("start", "end", "months", "line")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    LINE_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    months: int
    line: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ..., months: _Optional[int] = ..., line: _Optional[str] = ...) -> None: ...

class SkillArea(_message.Message):
    __slots__ = ("area", "skills")
    AREA_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    area: str
    skills: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, area: _Optional[str] = ..., skills: _Optional[_Iterable[str]] = ...) -> None: ...

class ResumeExtraction(_message.Message):
    __slots__ = ("kind", "text", "text_sha256", "pages", "skills", "years_experience", "education", "roles", "experience", "knowledge_set", "analyzer", "processing_s")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TEXT_SHA256_FIELD_NUMBER: _ClassVar[int]
    PAGES_FIELD_NUMBER: _ClassVar[int]
    SKILLS_FIELD_NUMBER: _ClassVar[int]
    YEARS_EXPERIENCE_FIELD_NUMBER: _ClassVar[int]
    EDUCATION_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    EXPERIENCE_FIELD_NUMBER: _ClassVar[int]
    KNOWLEDGE_SET_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    kind: str
    text: str
    text_sha256: str
    pages: int
    skills: _containers.RepeatedScalarFieldContainer[str]
    years_experience: float
    education: _containers.RepeatedScalarFieldContainer[str]
    roles: _containers.RepeatedScalarFieldContainer[str]
    experience: _containers.RepeatedCompositeFieldContainer[ExperienceRange]
    knowledge_set: _containers.RepeatedCompositeFieldContainer[SkillArea]
    analyzer: str
    processing_s: float
    def __init__(self, kind: _Optional[str] = ..., text: _Optional[str] = ..., text_sha256: _Optional[str] = ..., pages: _Optional[int] = ..., skills: _Optional[_Iterable[str]] = ..., years_experience: _Optional[float] = ..., education: _Optional[_Iterable[str]] = ..., roles: _Optional[_Iterable[str]] = ..., experience: _Optional[_Iterable[_Union[ExperienceRange, _Mapping]]] = ..., knowledge_set: _Optional[_Iterable[_Union[SkillArea, _Mapping]]] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ...) -> None: ...

class KnowledgeSet(_message.Message):
    __slots__ = ("areas", "analyzer", "processing_s")
    AREAS_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    areas: _containers.RepeatedCompositeFieldContainer[SkillArea]
    analyzer: str
    processing_s: float
    def __init__(self, areas: _Optional[_Iterable[_Union[SkillArea, _Mapping]]] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ...) -> None: ...

class TitleSuggestion(_message.Message):
    __slots__ = ("suggested_title", "analyzer", "processing_s")
    SUGGESTED_TITLE_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    suggested_title: str
    analyzer: str
    processing_s: float
    def __init__(self, suggested_title: _Optional[str] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ...) -> None: ...

class DescriptionSuggestion(_message.Message):
    __slots__ = ("suggested_description", "analyzer", "processing_s")
    SUGGESTED_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ANALYZER_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_S_FIELD_NUMBER: _ClassVar[int]
    suggested_description: str
    analyzer: str
    processing_s: float
    def __init__(self, suggested_description: _Optional[str] = ..., analyzer: _Optional[str] = ..., processing_s: _Optional[float] = ...) -> None: ...
