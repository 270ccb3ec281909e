"""How agency names in documents are matched to the directory (services/assignment/names.py)."""

from __future__ import annotations

import unicodedata
from functools import cache

import pytest

from services.assignment.directory.tree import Directory
from services.assignment.names import Named, keys, scan_form
from services.assignment.provision import read_directory


@cache
def directory() -> Directory:
    return Directory.of(read_directory())


def ids(cell: str) -> list[list[str]]:
    return [sorted(n.ident for n in m.found) for m in directory().names.mentions(cell)]


def test_case_and_spacing_do_not_matter() -> None:
    assert ids("SỞ   TƯ PHÁP") == [["bd-stp"]]
    assert ids("sở tư pháp") == [["bd-stp"]]


def test_unicode_form_does_not_matter() -> None:
    assert ids(unicodedata.normalize("NFD", "Sở Giáo dục và Đào tạo")) == [["bd-sgddt"]]


def test_old_style_tone_marks_match_the_modern_ones() -> None:
    assert scan_form("hoá") == "hóa" and scan_form("uỷ ban") == "ủy ban" and scan_form("thuỷ") == "thủy"
    assert ids("Sở Văn hoá và Thể thao") == [["bd-svhtt"]]
    assert ids("Uỷ ban nhân dân tỉnh Bình Định") == [["ubnd-bd"]]


def test_qu_keeps_its_tone_mark() -> None:
    assert scan_form("quý") == "quý"
    assert scan_form("hoạch") == "hoạch"  # a final consonant: nothing to move


def test_ubnd_and_uy_ban_nhan_dan_are_the_same_words() -> None:
    assert keys("UBND huyện Phù Mỹ") & keys("Ủy ban nhân dân huyện Phù Mỹ")
    assert ids("Ủy ban nhân dân huyện Tây Sơn") == [["bd-ubnd-tay-son"]]


def test_spaces_around_a_hyphen_do_not_matter() -> None:
    assert ids("Phòng Kế hoạch-Tài chính") == [["bd-sgddt-pkhtc"]]


def test_the_longest_name_wins_over_and_as_a_separator() -> None:
    assert ids("Sở Kế hoạch và Đầu tư và Sở Tư pháp") == [["bd-skhdt"], ["bd-stp"]]


def test_a_related_tail_is_a_group_not_a_guess() -> None:
    found = directory().names.mentions("Sở Tư pháp, Sở Tài chính và các cơ quan, đơn vị, địa phương")
    assert [m.text for m in found] == ["Sở Tư pháp", "Sở Tài chính", "các cơ quan, đơn vị, địa phương"]
    assert found[2].found == {Named("group", "g-co-quan-don-vi-dia-phuong")}


def test_a_head_title_addresses_the_agency() -> None:
    assert ids("Thủ trưởng các sở, ban, ngành thuộc tỉnh") == [["g-bd-so-nganh"]]
    assert ids("Chủ tịch UBND các huyện, thị xã, thành phố") == [["g-bd-ubnd-huyen"]]


def test_list_punctuation_around_names_is_ignored() -> None:
    assert ids("- Sở Tư pháp;") == [["bd-stp"]]
    assert ids("Các cơ quan, đơn vị, địa phương.") == [["g-co-quan-don-vi-dia-phuong"]]


def test_an_unknown_name_is_unmatched_never_guessed() -> None:
    [mention] = directory().names.mentions("Sở Quy hoạch Kiến trúc")
    assert mention.found == frozenset() and mention.text == "Sở Quy hoạch Kiến trúc"


def test_a_name_without_diacritics_only_gets_a_suggestion() -> None:
    [mention] = directory().names.mentions("So Tu phap")
    assert mention.found == frozenset()
    assert mention.suggestions == ("Sở Tư pháp",)


def test_no_two_bodies_of_the_seed_directory_share_a_key() -> None:
    index = directory().names
    shared = {key: sorted(n.ident for n in found) for key, found in index._by_key.items() if len(found) > 1}
    assert shared == {}


@pytest.mark.parametrize("alias", ["Sở GD&ĐT", "SGDĐT", "Sở GDĐT", "Sở Giáo dục và Đào tạo tỉnh Bình Định"])
def test_aliases_match(alias: str) -> None:
    assert ids(alias) == [["bd-sgddt"]]
