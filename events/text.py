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


def storable(text: str) -> str:
    """NFC, and refused when a UTF-8 text column could not hold it: U+0000, or a lone UTF-16 surrogate
    (JSON may escape one as ``\\ud800``). Refused here it is a 422 or an invalid-command saying why;
    let through, it fails in PostgreSQL as a 500 or a command that crashes on every retry."""
    if "\x00" in text:
        raise ValueError("U+0000 (NUL) is not accepted in text / không chấp nhận ký tự U+0000 trong văn bản")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(
            "a lone UTF-16 surrogate is not text / văn bản chứa nửa cặp thay thế UTF-16 không hợp lệ"
        ) from None
    return nfc(text)


NFCStr = Annotated[str, AfterValidator(storable)]
