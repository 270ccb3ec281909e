"""The phrase made comparable: one Unicode form, case and spacing, spelling variants and fillers gone."""

from __future__ import annotations

import re
import unicodedata

# Characters a copy from a PDF or a spreadsheet drags along that carry no meaning.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-"))
EDGE = " .,;:!?\"'“”‘’«»()[]{}*•·-_"


def canonical(text: str) -> str:
    """Lower case, NFC, single spaces, common spelling variants folded; edges trimmed."""
    # NFKC first: it composes NFD input and folds full-width digits and "Ⅳ" to plain characters.
    s = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_DASHES).lower()
    s = re.sub(r"\s+", " ", unicodedata.normalize("NFC", s))
    s = re.sub(r"\bhằng\b", "hàng", s)  # "hằng năm" and "hàng năm" are both in use
    s = re.sub(r"\b(?:quí|qúy)\b", "quý", s)  # older spellings
    s = re.sub(r"\bmuộn nhất\b", "chậm nhất", s)
    return s.strip(EDGE)


_FILLER = re.compile(
    r"^(?:phấn đấu|phần đầu|thời hạn hoàn thành|thời gian hoàn thành|thời hạn|thời gian|hạn chót|hạn"
    r"|phải hoàn thành|hoàn thành|xong|chậm nhất là|chậm nhất|không quá|không muộn hơn|không chậm hơn|là)"
    r"(?=[\s:,]|$)"
)
_TRAILING_FILLER = re.compile(r"(?:^|\s)(?:phải hoàn thành|hoàn thành|là xong|xong)$")


def strip_fillers(s: str) -> str:
    while True:
        before = s
        s = _TRAILING_FILLER.sub("", _FILLER.sub("", s.strip(EDGE))).strip(EDGE)
        if s == before:
            return s
