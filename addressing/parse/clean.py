"""First pass over raw address text: reject what is not an address, move non-address
content (phones, e-mails, delivery instructions, care-of lines) to notes, tidy the rest.

>>> prepare("123 Main St   (leave at back door) tel 555-123-4567").text
'123 Main St'
>>> prepare("").invalid
'empty address'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

MAX_RAW_CHARS = 2000
MAX_ADDRESS_CHARS = 250

_EMAIL = re.compile(r"(?:e-?mail\s*:?\s*)?[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.I)
_PHONE = re.compile(
    r"(?:\b(?:tel|phone|ph|cell|mobile|mob|call|text)\b\.?\s*:?\s*(?:#\s*)?)?"
    r"(?:(?:\+|\b)1[\s.-]?)?(?:\(\d{3}\)\s*|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b"
    r"|(?:\b(?:tel|phone|ph|cell|mobile)\b\.?\s*:?\s*)\+?\d[\d\s().-]{6,}\d"
    r"|\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,4}\b",
    re.I,
)
_INSTRUCTION = re.compile(
    r"\b(?:please\s+)?(?:leave|drop|place|put|deliver|hand)\b(?:\s+(?:it|pkg|package|parcel|them|box|packages))?"
    r"\s+(?:at|by|on|in|with|behind|inside|under|near|to|beside|next\s+to)\b(?:\s+(?:the|my|a|our))?"
    r"(?:\s+[a-z'-]+){0,2}?\s+(?:door|porch|gate|steps?|garage|office|desk|concierge|neighbou?r|mailroom"
    r"|mailbox|reception|patio|deck|lobby|shed|entrance|house|stairs|building|unit|box)s?\b"
    r"|\b(?:gate|door|access|entry|buzzer|lockbox|building)\s*(?:code|#)\s*:?\s*#?\s*[0-9*#]+\b"
    r"|\b(?:ring|buzz|knock|call|text)\b(?:\s+[a-z']+){0,3}?\s+(?:bell|doorbell|buzzer|on\s+arrival|upon\s+arrival"
    r"|when\s+(?:here|arrived|arriving|outside)|before\s+deliver(?:y|ing))\b"
    r"(?:\s+(?:on|upon)\s+arrival\b|\s+when\s+(?:here|arrived|arriving|outside)\b)?"   # "ring doorbell on arrival"
    r"(?:\s+(?:twice|once|loudly|hard|please))?"
    r"|\b(?:do\s+not|don'?t|dont)\s+(?:leave|ring|knock|bend|deliver)\b(?:\s+[a-z']+){0,4}"
    r"|\bif\s+(?:not|nobody|no\s+one)\s+(?:home|answers?|there)\b(?:\s+[a-z']+){0,4}"
    r"|\b(?:signature\s+required|fragile|handle\s+with\s+care|beware\s+of\s+(?:the\s+)?dog)\b",
    re.I,
)
#: the care-of name: words up to a comma, a digit or a unit / box word ("c/o Jo Smith Unit 4, 110 Gough St")
_CARE_WORD = r"(?!(?:apt|apartment|unit|ste|suite|bldg|building|fl|floor|rm|room|po|box|pmb)\b)[^\s,\d#]+"
_CARE_OF = re.compile(
    r"(?:^|(?<=[\s,]))(?:c\s*/\s*o|care\s+of|attn|attention)\b\.?\s*:?\s*"
    rf"({_CARE_WORD}(?:[ \t]+{_CARE_WORD})*)",
    re.I,
)
_PARENS = re.compile(r"\(([^()]*)\)|\[([^\[\]]*)\]")
_WS = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_LINE_BREAK = re.compile(r"\s*[\r\n\u2028\u2029]+\s*")
_REPEAT_COMMA = re.compile(r"\s*,[\s,]*")
_LETTER_OR_DIGIT = re.compile(r"[^\W_]", re.U)
#: cheap checks decide whether the slower note-extracting patterns need to run at all: a
#: character they need, a phone-like digit group, or one of the words they start with
_NOTE_CHARS = frozenset("@()[]+/")
_PHONE_HINT = re.compile(r"\d{3}[\s.-]\d{4}")
_NOTE_WORDS = frozenset(
    b"tel phone ph cell mobile mob call text care attn attention leave drop place put deliver hand handle"
    b" gate door access entry buzzer lockbox building ring buzz knock do don dont if signature fragile beware"
    b" email mail please".split()
)
#: ASCII bytes -> lower-case letters, everything else a space (bytes.translate is fast)
_WORD_BYTES = bytes(c + 32 if 65 <= c <= 90 else c if 97 <= c <= 122 else 32 for c in range(256))


def _maybe_notes(text: str) -> bool:
    if not text.isascii() or not _NOTE_CHARS.isdisjoint(text) or _PHONE_HINT.search(text):
        return True
    return not _NOTE_WORDS.isdisjoint(text.encode("ascii").translate(_WORD_BYTES).split())


_FRACTIONS = str.maketrans({"¼": " 1/4", "½": " 1/2", "¾": " 3/4", "⅓": " 1/3", "⅔": " 2/3", "⅛": " 1/8",
                            "⅜": " 3/8", "⅝": " 5/8", "⅞": " 7/8", "\u2044": "/"})


@dataclass(slots=True)
class Prepared:
    text: str
    notes: list[str] = field(default_factory=list)
    invalid: str | None = None


def _strip_symbols(text: str) -> tuple[str, bool]:
    """Drop control characters, emoji and other symbols; report whether any were dropped."""
    if text.isascii() and text.isprintable():
        return text, False
    out = []
    dropped = False
    for ch in text:
        cat = unicodedata.category(ch)
        if cat[0] == "C" or cat in ("So", "Sk", "Cs"):
            if ch in "\t":
                out.append(" ")
            elif ch in "\r\n":
                out.append(ch)
            else:
                dropped = True
            continue
        out.append(ch)
    return "".join(out), dropped


def _cut(pattern: re.Pattern, text: str, label: str, notes: list[str]) -> str:
    def take(m: re.Match) -> str:
        value = m.group(0).strip(" ,;")
        if label == "care_of":
            value = m.group(1).strip(" ,;:")
        if value:
            notes.append(f"{label}: {value}")
        return ", "
    return pattern.sub(take, text)


def prepare(raw: object) -> Prepared:
    """Validate and tidy one raw address string; never raises."""
    if raw is None:
        return Prepared("", invalid="empty address")
    if isinstance(raw, float) and raw != raw:
        return Prepared("", invalid="empty address")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Prepared("", invalid="address is not valid UTF-8 text")
    if not isinstance(raw, str):
        return Prepared("", invalid=f"address is not text ({type(raw).__name__})")
    if len(raw) > MAX_RAW_CHARS:
        return Prepared("", invalid=f"address text too long ({len(raw):,} characters)")
    if "\ufffd" in raw:
        return Prepared("", invalid="address holds undecodable bytes (invalid UTF-8 in the source)")
    text = raw
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text.translate(_FRACTIONS))
    text, dropped = _strip_symbols(text)
    if not text.strip():
        return Prepared("", invalid="address holds only symbols or control characters" if dropped else "empty address")
    notes: list[str] = []
    stripped = text.lstrip()
    if stripped[:1] in ("=", "+", "@") or (stripped[:1] == "-" and not stripped[1:2].isdigit()):
        notes.append("removed leading formula character")
        text = stripped.lstrip("=+-@ ")
    if "\n" in text or "\r" in text or not text.isascii():
        text = _LINE_BREAK.sub(", ", text)
    if not _maybe_notes(text):
        return _tidy(text, notes, dropped)
    text = _cut(_EMAIL, text, "email", notes)
    text = _cut(_PHONE, text, "phone", notes)
    text = _cut(_CARE_OF, text, "care_of", notes)

    def parens(m: re.Match) -> str:
        inner = (m.group(1) or m.group(2) or "").strip()
        if inner and _INSTRUCTION.search(inner) is None and re.fullmatch(r"(?i)(apt|unit|ste|suite|#)?\s*#?\s*\w{1,6}", inner):
            return f" {inner} "
        if inner:
            notes.append(f"instructions: {inner}")
        return ", "

    text = _PARENS.sub(parens, text)
    text = _cut(_INSTRUCTION, text, "instructions", notes)
    return _tidy(text, notes, dropped)


def _tidy(text: str, notes: list[str], dropped: bool) -> Prepared:
    if "  " in text or not text.isascii():
        text = _WS.sub(" ", text)
    if "," in text:
        text = _REPEAT_COMMA.sub(", ", text)
    text = text.strip(" ,;")
    if dropped and not text:
        return Prepared("", notes, invalid="address holds only symbols or control characters")
    if not text:
        if notes:
            return Prepared("", notes, invalid="address fields hold no address, only notes")
        return Prepared("", notes, invalid="empty address")
    if len(text) > MAX_ADDRESS_CHARS:
        return Prepared("", notes, invalid=f"address text too long ({len(text):,} characters)")
    if not _LETTER_OR_DIGIT.search(text):
        return Prepared("", notes, invalid="address holds no letters or digits")
    return Prepared(text, notes)
