"""Vietnamese text is data: one Unicode form everywhere (NFC), compared and searched with care."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

_SPACES = re.compile(r"\s+")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """A search key: NFC, case-folded, spaces collapsed, diacritics kept (``Sở`` is not ``So``)."""
    return _SPACES.sub(" ", nfc(text).casefold()).strip()


def strip_diacritics(text: str) -> str:
    """For tolerant matching only, never for storage: đ has no decomposition and is mapped by hand."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


NFCStr = Annotated[str, AfterValidator(nfc)]
