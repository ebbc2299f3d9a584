"""Whisper's language codes (ISO 639-1, plus ``haw`` and ``yue``) and their English names.

The table is Whisper's own (``whisper/tokenizer.py: LANGUAGES``, Radford et al. 2022);
OpenAI's transcription API accepts these codes and reports the names in
``verbose_json``. Shared by the gateway (request validation, response names) and the
transcription service (mapping a provider's language name back to its code).
"""

from __future__ import annotations

LANGUAGES: dict[str, str] = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian",
    "ko": "korean", "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish",
    "pl": "polish", "ca": "catalan", "nl": "dutch", "ar": "arabic", "sv": "swedish",
    "it": "italian", "id": "indonesian", "hi": "hindi", "fi": "finnish", "vi": "vietnamese",
    "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay", "cs": "czech",
    "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian",
    "la": "latin", "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak",
    "te": "telugu", "fa": "persian", "lv": "latvian", "bn": "bengali", "sr": "serbian",
    "az": "azerbaijani", "sl": "slovenian", "kn": "kannada", "et": "estonian", "mk": "macedonian",
    "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian", "ne": "nepali",
    "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
    "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer",
    "sn": "shona", "yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan",
    "ka": "georgian", "be": "belarusian", "tg": "tajik", "sd": "sindhi", "gu": "gujarati",
    "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek", "fo": "faroese",
    "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk", "mt": "maltese",
    "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan", "tl": "tagalog",
    "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala",
    "ha": "hausa", "ba": "bashkir", "jw": "javanese", "su": "sundanese", "yue": "cantonese",
}  # fmt: skip

_BY_NAME = {name: code for code, name in LANGUAGES.items()}


def is_known(code: str) -> bool:
    """True when ``code`` (case-insensitive) is one of Whisper's language codes."""
    return code.strip().lower() in LANGUAGES


def name_of(code: str) -> str:
    """English name of a language code (``"en"`` -> ``"english"``); the code itself if unknown."""
    return LANGUAGES.get(code.strip().lower(), code)


def code_of(name_or_code: str) -> str:
    """Code of a language given by name or code (``"English"`` -> ``"en"``); unchanged if unknown."""
    value = name_or_code.strip().lower()
    if value in LANGUAGES:
        return value
    return _BY_NAME.get(value, value)
