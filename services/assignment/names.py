"""How agency names written in documents are matched to the directory. Pure, no I/O.

Matching is exact on a *key*, never fuzzy. Two spellings have the same key when they differ only by
* Unicode form (NFC/NFD), letter case and runs of spaces;
* the old placement of a tone mark ("hoá" is "hóa", "uỷ" is "ủy"; "quý" is left alone: there "u"
  belongs to "qu");
* "Ủy ban nhân dân" written "UBND", and spaces around a hyphen ("Kế hoạch-Tài chính");
* list punctuation around a name (a leading "- ", a trailing ".", ";" or ",").
A cell naming several bodies is read left to right, taking at each point the longest known name
(so "Sở Kế hoạch và Đầu tư" is one name although "và" also separates names), skipping the separators
between names (",", ";", "và", "cùng") and a leading head's title ("Thủ trưởng", "Chủ tịch"…).
Whatever matches nothing is returned as an unmatched mention: the caller reports it, never guesses.
A name that only matches once its diacritics are dropped ("So Tu phap") yields a *suggestion*.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from events.text import nfc, strip_diacritics

_SPACES = re.compile(r"\s+")
_TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"
# In NFD: "o" + a/e + tone, or "u" + "y" + tone (not after "q"), at the end of a syllable.
_OLD_STYLE_TONE = re.compile(rf"(?:(?<!q)(u)(y)|(o)([ae]))([{_TONE_MARKS}])(?![^\W\d_]|[\u0300-\u036f])")
_UBND = ("ủy ban nhân dân", "ubnd")
_SEPARATOR = re.compile(r"(?:[\s,;:.•]|-(?=\s)|&|\bvà\b|\bcùng\b|\bvới\b)+")
_HEAD_TITLE = re.compile(r"(?:thủ trưởng|chủ tịch|giám đốc|hiệu trưởng|tổ trưởng|trưởng)\s+")
_NEXT_BREAK = re.compile(r"[,;]|\svà\s")

Kind = Literal["agency", "group"]


def display(text: str) -> str:
    """The text as shown back to people: NFC, spaces collapsed."""
    return _SPACES.sub(" ", nfc(text)).strip()


def _modern_tone(match: re.Match[str]) -> str:
    first, second = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    return first + match.group(5) + second


def scan_form(text: str) -> str:
    """Lower case with modern tone placement; same length as ``text`` so positions line up."""
    lowered = text.lower()
    moved = nfc(_OLD_STYLE_TONE.sub(_modern_tone, unicodedata.normalize("NFD", lowered)))
    return moved if len(moved) == len(lowered) else lowered


def keys(name: str) -> set[str]:
    """Every key under which ``name`` is found."""
    base = scan_form(display(name)).strip(" .;,:")
    base = re.sub(r"^[-•]\s*", "", base)
    found = {base}
    for long, short in (_UBND,):
        found |= {k.replace(long, short) for k in found} | {k.replace(short, long) for k in found}
    found |= {re.sub(r"\s*-\s*", " - ", k) for k in found} | {re.sub(r"\s*-\s*", "-", k) for k in found}
    return {k for k in found if k}


@dataclass(frozen=True, order=True)
class Named:
    kind: Kind
    ident: str


@dataclass(frozen=True)
class Mention:
    """A piece of a cell: the text as written and what it names (empty: unmatched; several: ambiguous)."""

    text: str
    found: frozenset[Named]
    suggestions: tuple[str, ...] = ()


@dataclass
class NameIndex:
    _by_key: dict[str, set[Named]] = field(default_factory=lambda: defaultdict(set))
    _by_first_char: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    _plain: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def of(cls, entries: Iterable[tuple[str, Named]]) -> NameIndex:
        index = cls()
        for name, named in entries:
            for key in keys(name):
                index._by_key[key].add(named)
                index._plain[strip_diacritics(key)].add(display(name))
        for key in index._by_key:
            index._by_first_char[key[0]].append(key)
        for bucket in index._by_first_char.values():
            bucket.sort(key=len, reverse=True)
        return index

    def lookup(self, name: str) -> frozenset[Named]:
        return frozenset(set().union(*(self._by_key.get(k, set()) for k in keys(name))))

    def longest_at(self, text: str, pos: int) -> tuple[int, frozenset[Named]] | None:
        for key in self._by_first_char.get(text[pos : pos + 1], ()):
            end = pos + len(key)
            if text.startswith(key, pos) and (end == len(text) or not text[end].isalnum()):
                return end, frozenset(self._by_key[key])
        return None

    def suggest(self, text: str) -> tuple[str, ...]:
        return tuple(sorted({n for k in keys(text) for n in self._plain.get(strip_diacritics(k), set())}))

    def mentions(self, cell: str) -> list[Mention]:
        text = display(cell)
        scan = scan_form(text)
        out: list[Mention] = []
        pos = 0
        while True:
            if sep := _SEPARATOR.match(scan, pos):
                pos = sep.end()
            if pos >= len(scan):
                return out
            hit = self.longest_at(scan, pos)
            if title := _HEAD_TITLE.match(scan, pos):  # "Thủ trưởng các sở…": addressed through its head
                untitled = self.longest_at(scan, title.end())
                if untitled is not None and (hit is None or untitled[0] > hit[0]):
                    hit = untitled
            if hit is not None:
                out.append(Mention(text[pos : hit[0]], hit[1]))
                pos = hit[0]
                continue
            stop = _NEXT_BREAK.search(scan, pos)
            end = stop.start() if stop else len(scan)
            fragment = text[pos:end].strip(" .")
            out.append(Mention(fragment, frozenset(), self.suggest(fragment)))
            pos = end
