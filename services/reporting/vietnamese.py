"""Vietnamese presentation: numbers (10.527; 3,2%), dates (28/02/2021) and collation of names.

Sorting agency names by raw code points puts "Ủy ban" after "Văn phòng" and "Đ" after "Z". The
Vietnamese dictionary order compares base letters first (a ă â b c d đ e ê g h i k l m n o ô ơ p q r
s t u ư v x y), then the tone marks (none, huyền, hỏi, ngã, sắc, nặng), then case; runs of digits
compare as numbers, so "Trường số 2" comes before "Trường số 10".
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from functools import lru_cache

_ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxy"
_RANK: dict[str, float] = {letter: float(i) for i, letter in enumerate(_ALPHABET)}
# Letters outside the Vietnamese alphabet (f, j, w, z in names of foreign origin) sort after their
# neighbours in the Latin alphabet: f after e/ê, j after i, w after v, z after y.
_RANK |= {"f": _RANK["ê"] + 0.5, "j": _RANK["i"] + 0.5, "w": _RANK["v"] + 0.5, "z": _RANK["y"] + 0.5}
# Combining marks that make another letter (ă â ê ô ơ ư) versus those that only carry the tone.
_LETTER_MARKS = {"\u0306": "breve", "\u0302": "circumflex", "\u031b": "horn"}
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}  # huyền hỏi ngã sắc nặng
_DIGITS = re.compile(r"\d+")


def _letters(text: str) -> list[tuple[str, int, bool]]:
    """(letter with its letter marks, tone, is upper case) per base character."""
    out: list[tuple[str, int, bool]] = []
    for ch in unicodedata.normalize("NFD", text):
        if ch in _LETTER_MARKS and out:
            base, tone, upper = out[-1]
            out[-1] = (unicodedata.normalize("NFC", base + ch), tone, upper)
        elif ch in _TONES and out:
            base, _, upper = out[-1]
            out[-1] = (base, _TONES[ch], upper)
        elif unicodedata.combining(ch):
            continue
        else:
            out.append((ch.lower(), 0, ch != ch.lower()))
    return out


@lru_cache(maxsize=65536)  # agency names and document numbers repeat from one report to the next
def sort_key_vi(text: str) -> tuple[tuple[object, ...], tuple[int, ...], tuple[bool, ...]]:
    """A key for sorted(): base letters, then tones, then case (lower first), Vietnamese order."""
    primary: list[object] = []
    tones: list[int] = []
    cases: list[bool] = []
    for chunk_i, chunk in enumerate(_DIGITS.split(text)):
        for letter, tone, upper in _letters(chunk):
            if letter in _RANK:
                primary.append((2, _RANK[letter]))
            elif letter.isspace():
                primary.append((0, 0))
            else:
                primary.append((1, ord(letter)))
            tones.append(tone)
            cases.append(upper)
        numbers = _DIGITS.findall(text)
        if chunk_i < len(numbers):
            primary.append((1.5, int(numbers[chunk_i])))
    return tuple(primary), tuple(tones), tuple(cases)


def vn_number(value: float, decimals: int = 0) -> str:
    """Vietnamese format: thousands with '.', decimals with ',' — 10.527 and 3,2."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def vn_percent(value: float) -> str:
    return f"{vn_number(value, 1)}%"


def vn_date(value: date | datetime) -> str:
    return f"{value:%d/%m/%Y}"
