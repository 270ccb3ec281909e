"""Free text (every ``NFCStr`` field of a command, an event or a directory record) is what PostgreSQL can
store: NFC, no U+0000, no lone surrogate. The fuzzers (tests/integration/test_fuzz_*.py) found both
reaching the database as a 500 over HTTP and as a crash on dondoc.intake."""

from __future__ import annotations

import unicodedata

import pytest
from pydantic import BaseModel, ValidationError

from events.text import NFCStr


class Note(BaseModel):
    text: NFCStr


@pytest.mark.parametrize("text", ["a\x00b", "\ud800", "x\udfffy", "\udbff\udc00\ud800"])
def test_text_a_database_cannot_store_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Note(text=text)
    assert "U+0000" in str(refused.value) or "surrogate" in str(refused.value)


def test_text_is_kept_in_nfc_with_its_odd_but_valid_characters() -> None:
    odd = unicodedata.normalize("NFD", "Sở Giáo dục") + "\u202e\u200f\x07😀"
    assert Note(text=odd).text == unicodedata.normalize("NFC", odd)


def test_a_surrogate_pair_escaped_in_json_is_one_valid_character() -> None:
    assert Note.model_validate_json('{"text": "\\ud83d\\ude00"}').text == "😀"
