"""The demo directory and the fixtures taken from the seeds are consistent with each other.

Data files: services/assignment/seed/directory.json, tests/fixtures/danh_muc_131*.tsv,
tests/fixtures/danh_muc_131.expected.json, tests/fixtures/cascade_task13.json.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from events.text import fold

REPO = Path(__file__).resolve().parents[2]
DIRECTORY = REPO / "services" / "assignment" / "seed" / "directory.json"
FIXTURES = REPO / "tests" / "fixtures"
TSV = FIXTURES / "danh_muc_131.tsv"
MERGED_TSV = FIXTURES / "danh_muc_131.merged.tsv"
EXPECTED = FIXTURES / "danh_muc_131.expected.json"
CASCADE = FIXTURES / "cascade_task13.json"
SEED_001 = REPO.parent / "shared" / "seeds" / "001_b04e2faa4072ac2f.txt"  # beside the clone, as CI has it

HEADERS = [
    "STT",
    "Tên nhiệm vụ",
    "Cơ quan chủ trì",
    "Cơ quan phối hợp",
    "Thời hạn Hoàn thành",
    "Mô tả sản phẩm của nhiệm vụ",
]
LEVELS = {"chinh-phu", "bo-nganh", "ubnd-tinh", "so-nganh", "ubnd-huyen", "ubnd-xa", "don-vi", "van-phong"}
ROLES = {"head", "deputy", "officer"}
ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


@cache
def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def directory() -> dict[str, Any]:
    return load(DIRECTORY)  # type: ignore[no-any-return]


def agencies() -> dict[str, dict[str, Any]]:
    return {a["agency_id"]: a for a in directory()["agencies"]}


def groups() -> dict[str, dict[str, Any]]:
    return {g["group_id"]: g for g in directory()["groups"]}


def people() -> dict[str, dict[str, Any]]:
    return {p["person_id"]: p for p in directory()["people"]}


def tsv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def ids_named(value: Any, key_suffixes: tuple[str, ...]) -> Iterator[str]:
    """Every string under a key ending with one of the suffixes ('agency_id', 'agency_ids', …)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k.endswith(key_suffixes):
                yield from ([v] if isinstance(v, str) else [x for x in v if isinstance(x, str)])
            else:
                yield from ids_named(v, key_suffixes)
    elif isinstance(value, list):
        for v in value:
            yield from ids_named(v, key_suffixes)


# ------------------------------------------------------------------ loading and text


@pytest.mark.parametrize("path", [DIRECTORY, EXPECTED, CASCADE], ids=lambda p: p.name)
def test_json_files_load(path: Path) -> None:
    assert isinstance(load(path), dict)


@pytest.mark.parametrize(
    "path", [DIRECTORY, EXPECTED, CASCADE, TSV, MERGED_TSV, FIXTURES / "README.md"], ids=lambda p: p.name
)
def test_all_text_is_nfc_utf8(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    assert unicodedata.is_normalized("NFC", text)
    assert "\r" not in text and "\ufeff" not in text


# ------------------------------------------------------------------ directory


def test_ids_are_unique_and_well_formed() -> None:
    d = directory()
    all_ids = (
        [a["agency_id"] for a in d["agencies"]]
        + [g["group_id"] for g in d["groups"]]
        + [p["person_id"] for p in d["people"]]
    )
    dupes = [i for i, n in Counter(all_ids).items() if n > 1]
    assert not dupes, dupes
    bad = [i for i in all_ids if not ID.match(i)]
    assert not bad, bad
    assert all(g.startswith("g-") for g in groups())
    assert all(p.startswith("p-") for p in people())


def test_every_reference_exists() -> None:
    ags, ppl = agencies(), people()
    for a in ags.values():
        assert a["parent_id"] is None or a["parent_id"] in ags, a["agency_id"]
        missing = [t for t in a["can_assign_to"] if t not in ags]
        assert not missing, (a["agency_id"], missing)
    for p in ppl.values():
        assert p["agency_id"] in ags, p["person_id"]
    for g in groups().values():
        missing = [m for m in g["member_ids"] if m not in ags]
        assert not missing, (g["group_id"], missing)


def test_agencies_form_one_tree() -> None:
    ags = agencies()
    roots = [a for a in ags.values() if a["parent_id"] is None]
    assert [r["agency_id"] for r in roots] == ["cp"]
    for aid in ags:
        seen, cur = set(), aid
        while ags[cur]["parent_id"] is not None:
            assert cur not in seen, f"cycle through {cur}"
            seen.add(cur)
            cur = ags[cur]["parent_id"]
        assert cur == "cp"


def test_levels_and_tracking_offices() -> None:
    for a in agencies().values():
        assert a["level"] in LEVELS, a
        assert a["tracking_office"] == (a["level"] == "van-phong"), a["agency_id"]
        assert isinstance(a["aliases"], list) and isinstance(a["can_assign_to"], list)
        assert a["name"] and a["short_name"]
    by_level = Counter(a["level"] for a in agencies().values())
    assert by_level["chinh-phu"] == 1 and by_level["ubnd-tinh"] == 1 and by_level["ubnd-huyen"] == 11


def test_each_agency_has_exactly_one_head() -> None:
    heads = Counter(p["agency_id"] for p in people().values() if p["role"] == "head")
    assert {a: heads[a] for a in agencies() if heads[a] != 1} == {}


def test_people_are_demo_people() -> None:
    seed_text = (
        "\n".join(p.read_text(encoding="utf-8") for p in SEED_001.parent.glob("*.txt")) if SEED_001.exists() else ""
    )
    emails = Counter(p["email"] for p in people().values())
    assert max(emails.values()) == 1
    names = Counter(p["full_name"] for p in people().values())
    assert max(names.values()) == 1
    for p in people().values():
        assert p["role"] in ROLES and p["demo"] is True and p["title"], p
        assert p["email"].endswith("@demo.dondoc.invalid"), p
        assert p["full_name"] not in seed_text, f"{p['full_name']} is a real person named in the seeds"


def test_demo_agencies_have_officers() -> None:
    """UBND tỉnh, its Văn phòng, Sở GDĐT, the school and its teams and every lead of the 17 tasks."""
    officers = Counter(p["agency_id"] for p in people().values() if p["role"] == "officer")
    leads = {i for t in load(EXPECTED)["tasks"] for i in t["lead_agency_ids"]}
    school = {a for a in agencies() if a.startswith("bd-thpt-bd-") and a != "bd-thpt-bd-ke-toan"}
    demo = {"ubnd-bd", "vp-ubnd-bd", "bd-sgddt", "bd-thpt-binh-duong"} | leads | school
    assert {a for a in demo if officers[a] == 0} == set()


def test_names_and_aliases_match_one_entity() -> None:
    owner: dict[str, set[str]] = {}
    for a in agencies().values():
        for n in [a["name"], a["short_name"], *a["aliases"]]:
            owner.setdefault(fold(n), set()).add(a["agency_id"])
    for g in groups().values():
        for n in [g["name"], *g["aliases"]]:
            owner.setdefault(fold(n), set()).add(g["group_id"])
    assert {k: v for k, v in owner.items() if len(v) > 1} == {}


def test_group_rules_match_their_members() -> None:
    ags = agencies()

    def descends(aid: str, ancestor: str) -> bool:
        while (aid := ags[aid]["parent_id"]) is not None:
            if aid == ancestor:
                return True
        return False

    for g in groups().values():
        assert g["kind"] in ("all", "related"), g
        rule = g["expands_to"]
        if rule is None:
            continue
        if "parent_id" in rule:
            want = {a for a, x in ags.items() if x["level"] == rule["level"] and x["parent_id"] == rule["parent_id"]}
        elif "ancestor_id" in rule:
            want = {a for a, x in ags.items() if x["level"] == rule["level"] and descends(a, rule["ancestor_id"])}
        else:
            want = set(ags[rule["can_assign_to_of"]]["can_assign_to"])
        assert set(g["member_ids"]) == want, g["group_id"]


def test_province_reaches_central_agencies_outside_its_subtree() -> None:
    ags = agencies()
    central = ags["ubnd-bd"]["can_assign_to"]
    assert "bd-cuc-thong-ke" in central
    for aid in central:
        cur = aid
        while (cur := ags[cur]["parent_id"]) is not None:
            assert cur != "ubnd-bd", f"{aid} is already in the subtree of UBND tỉnh"


def test_seed_names_resolve() -> None:
    """Names the seed's letters and table use resolve to an agency or group of the directory."""
    index = {fold(n): a["agency_id"] for a in agencies().values() for n in [a["name"], a["short_name"], *a["aliases"]]}
    index |= {fold(n): g["group_id"] for g in groups().values() for n in [g["name"], *g["aliases"]]}
    for name, want in [
        ("Sở Thông tin và Truyền thông", "bd-stttt"),
        ("Sở GD&ĐT", "bd-sgddt"),
        ("Sở GDĐT", "bd-sgddt"),
        ("Cục Thống kê tỉnh", "bd-cuc-thong-ke"),
        ("Văn phòng UBND tỉnh", "vp-ubnd-bd"),
        ("C.ty CP Cấp thoát nước Bình Định", "bd-cty-cap-thoat-nuoc"),
        ("Công ty cổ phần Môi trường Bình Định", "bd-cty-moi-truong"),
        ("Trường Cao đẳng Kỹ thuật Công nghệ Quy Nhơn", "bd-cd-ktcn-quy-nhon"),
        ("Trường Cao đẳng Y tế Bình Định", "bd-cd-y-te"),
        ("Sở Văn hóa và Thể thao", "bd-svhtt"),
        ("Tổ trưởng tổ văn phòng", "bd-thpt-bd-to-van-phong"),
        ("Bộ phận kế toán", "bd-thpt-bd-ke-toan"),
        ("Đoàn TN", "bd-thpt-bd-doan-tn"),
        ("BCH Công đoàn", "bd-thpt-bd-cong-doan"),
        ("Văn phòng Sở", "bd-sgddt-vp"),
        ("Phòng Kế hoạch - Tài chính", "bd-sgddt-pkhtc"),
        ("Các sở, ban, ngành thuộc tỉnh", "g-bd-so-nganh"),
        ("UBND các huyện, thị xã, thành phố", "g-bd-ubnd-huyen"),
        ("Ủy ban nhân dân các huyện, thị xã, thành phố", "g-bd-ubnd-huyen"),
        ("Các cơ quan Trung ương đóng trên địa bàn tỉnh", "g-bd-co-quan-tw"),
        ("Bộ Lao động - Thương binh và Xã hội", "bo-ldtbxh"),
        ("Ngân hàng Nhà nước Việt Nam", "nhnn"),
        ("Cục Kiểm soát TTHC", "vpcp-cuc-kstthc"),
        ("UBND huyện Phù Mỹ", "bd-ubnd-phu-my"),
    ]:
        assert index.get(fold(name)) == want, name


# ------------------------------------------------------------------ Danh mục fixtures


def task_rows(rows: list[list[str]]) -> list[list[str]]:
    return [r for r in rows if r and r[0].isdigit()]


@pytest.mark.parametrize("path", [TSV, MERGED_TSV], ids=lambda p: p.name)
def test_danh_muc_tsv_has_17_tasks_and_the_six_headers(path: Path) -> None:
    rows = tsv_rows(path)
    assert rows[0] == HEADERS
    assert all(len(r) == 6 for r in rows)
    assert [r[0] for r in task_rows(rows)] == [str(i) for i in range(1, 18)]
    assert [r[0] for r in rows if r[0] in ("I", "II", "III")] == ["I", "II", "III"]
    assert rows[-1][0] == "Tổng cộng: 17 nhiệm vụ"


def test_verbatim_tsv_is_the_seed_table() -> None:
    if not SEED_001.exists():
        pytest.skip("seed not on this machine")
    seed_lines = [line for line in SEED_001.read_text(encoding="utf-8").split("\n") if "\t" in line]
    assert TSV.read_text(encoding="utf-8").split("\n")[:-1] == seed_lines
    rows = tsv_rows(TSV)
    assert sum(r == HEADERS for r in rows) == 7  # at the top and again after each of 6 page breaks
    assert [i for i, r in enumerate(rows) if r[0] == ""] == [22, 26, 29]  # tasks 14, 16, 17 continued


def test_merging_page_breaks_gives_the_merged_tsv() -> None:
    merged: list[list[str]] = []
    for r in tsv_rows(TSV):
        if r == HEADERS and merged:
            continue
        if r[0] == "":
            merged[-1] = [f"{a} {b}" if a and b else a or b for a, b in zip(merged[-1], r, strict=True)]
            continue
        merged.append(r)
    assert merged == tsv_rows(MERGED_TSV)


def test_expected_json_agrees_with_the_table_and_the_directory() -> None:
    exp = load(EXPECTED)
    rows = task_rows(tsv_rows(MERGED_TSV))
    assert exp["header"] == HEADERS and exp["task_count"] == len(exp["tasks"]) == 17
    ags, grs = agencies(), groups()
    for row, task in zip(rows, exp["tasks"], strict=True):
        cells = ["stt", "title", "lead_text", "coordinating_text", "deadline_text", "product"]
        assert [task[c] for c in cells] == row
        assert task["lead_agency_ids"], task["stt"]
        for aid in task["lead_agency_ids"] + task["coordinating_agency_ids"]:
            assert aid in ags, (task["stt"], aid)
        for g in task["lead_groups"] + task["coordinating_groups"]:
            group = grs[g["group_id"]]
            assert fold(g["text"]).rstrip(".") in {fold(n) for n in [group["name"], *group["aliases"]]}
            assert g["text"] in row[2] + row[3]
            if group["kind"] == "all":
                ids = task["lead_agency_ids"] if g in task["lead_groups"] else task["coordinating_agency_ids"]
                assert set(group["member_ids"]) <= set(ids), (task["stt"], g)
    assert len({i for t in exp["tasks"] for i in t["lead_agency_ids"]}) > 1
    by_stt = {t["stt"]: t for t in exp["tasks"]}
    assert len(by_stt["8"]["lead_agency_ids"]) == 12  # Văn phòng UBND tỉnh and the 11 UBND huyện
    assert by_stt["13"]["lead_agency_ids"] == ["vp-ubnd-bd"]
    assert "bd-sgddt" in by_stt["13"]["coordinating_agency_ids"]


def test_every_agency_named_in_the_fixtures_exists() -> None:
    ags, grs, ppl = agencies(), groups(), people()
    for path in (EXPECTED, CASCADE):
        doc = load(path)
        agency_keys = ("agency_id", "agency_ids", "issuer_id", "named_units", "demo_chain")
        agency_refs = set(ids_named(doc, agency_keys))
        assert agency_refs and agency_refs <= set(ags), (path.name, agency_refs - set(ags))
        group_refs = set(ids_named(doc, ("group_id",)))
        assert group_refs <= set(grs), (path.name, group_refs - set(grs))
        person_refs = set(ids_named(doc, ("person_ids", "officer_in_charge_id")))
        assert person_refs <= set(ppl), (path.name, person_refs - set(ppl))


def test_cascade_of_task_13_follows_the_letters() -> None:
    c = load(CASCADE)
    steps = c["steps"]
    assert [s["document"]["number"] for s in steps] == ["6958/UBND-KSTT", "2384/SGDĐT-VP", "93/CV-THPTBD"]
    assert [s["document"]["date"] for s in steps] == ["2022-11-21", "2022-11-23", "2022-12-23"]
    assert [s["from_agency_id"] for s in steps] == c["demo_chain"][:3]
    for prev, nxt in itertools.pairwise(steps):
        assert nxt["from_agency_id"] in prev["to_agency_ids"]
    assert c["demo_chain"][-1] in steps[-1]["to_agency_ids"]
    assert [s["deadline_text"] for s in steps] == ["Tháng 3/2023", None, None]
    expected_13 = next(t for t in load(EXPECTED)["tasks"] if t["stt"] == "13")
    assert steps[0]["task_wording"] == expected_13["title"] == c["title"]
    assert steps[0]["assignment"]["lead_agency_ids"] == expected_13["lead_agency_ids"]
    ags = agencies()
    for s in steps:  # each letter assigns inside its issuer's reach
        reach = set(ags[s["from_agency_id"]]["can_assign_to"])
        for aid in s["assignment"]["lead_agency_ids"] + s["to_agency_ids"]:
            cur: str | None = aid
            while cur is not None and cur != s["from_agency_id"]:
                cur = ags[cur]["parent_id"]
            assert cur == s["from_agency_id"] or aid in reach, (s["step"], aid)
    if SEED_001.exists():
        seed = SEED_001.read_text(encoding="utf-8")
        for s in steps:
            assert s["task_wording"] in seed
            assert all(w in seed for w in s["letter_wording"])
