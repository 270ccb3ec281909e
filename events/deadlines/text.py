"""The phrase made comparable: one Unicode form, case and spacing, spelling variants and fillers gone.

Every step here is linear in the length of the phrase: the parser runs inside consumers and request
handlers, so a long text must cost a long read, never a stall (issue 12: the old filler loop re-scanned
the whole phrase once per filler word, about 12 s on 40 KB).
"""

from __future__ import annotations

import re
import unicodedata

# Characters a copy from a PDF or a spreadsheet drags along that carry no meaning.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-"))
EDGE = " .,;:!?\"'“”‘’«»()[]{}*•·-_"
_EDGE_SET = frozenset(EDGE)


def canonical(text: str) -> str:
    """Lower case, NFC, single spaces, common spelling variants folded; edges trimmed."""
    # NFKC first: it composes NFD input and folds full-width digits and "Ⅳ" to plain characters.
    s = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_DASHES).lower()
    s = re.sub(r"\s+", " ", unicodedata.normalize("NFC", s))
    s = re.sub(r"\bhằng\b", "hàng", s)  # "hằng năm" and "hàng năm" are both in use
    s = re.sub(r"\b(?:quí|qúy)\b", "quý", s)  # older spellings
    s = re.sub(r"\bmuộn nhất\b", "chậm nhất", s)
    return s.strip(EDGE)


# Anchored at a position and bounded by its longest word, so one attempt costs a constant.
_FILLER = re.compile(
    r"(?:phấn đấu|phần đầu|thời hạn hoàn thành|thời gian hoàn thành|thời hạn|thời gian|hạn chót|hạn"
    r"|phải hoàn thành|hoàn thành|xong|chậm nhất là|chậm nhất|không quá|không muộn hơn|không chậm hơn|là)"
    r"(?=[\s:,]|$)"
)
# Longest first: "phải hoàn thành" is one filler, not "phải" left before "hoàn thành".
_TRAILING_FILLERS = ("phải hoàn thành", "hoàn thành", "là xong", "xong")


def strip_fillers(s: str) -> str:
    """``s`` without edge punctuation and the filler words ("thời hạn", "hoàn thành", "chậm nhất" …) at
    either end, repeatedly, as "Thời hạn: chậm nhất là … phải hoàn thành" needs.

    Works on two indices into ``s``: every round either moves one of them past at least one character
    or ends, and costs a constant besides, so the whole is linear.
    """
    lo, hi = 0, len(s)
    while True:
        start = (lo, hi)
        lo, hi = _trim_edges(s, lo, hi)
        if m := _FILLER.match(s, lo, hi):
            lo, hi = _trim_edges(s, m.end(), hi)
        for word in _TRAILING_FILLERS:
            cut = hi - len(word)
            if cut >= lo and s.startswith(word, cut, hi) and (cut == lo or s[cut - 1].isspace()):
                hi = cut
                break
        lo, hi = _trim_edges(s, lo, hi)
        if (lo, hi) == start:
            return s[lo:hi]


def _trim_edges(s: str, lo: int, hi: int) -> tuple[int, int]:
    while lo < hi and s[lo] in _EDGE_SET:
        lo += 1
    while hi > lo and s[hi - 1] in _EDGE_SET:
        hi -= 1
    return lo, hi
