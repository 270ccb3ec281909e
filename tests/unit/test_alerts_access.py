"""Who may read a person's alerts: the person's own agency only (services/alerts/access.py)."""

from __future__ import annotations

import pytest

from services.alerts.access import PersonAgency, check_read
from services.runtime.refusals import Refused


def test_the_persons_agency_per_the_directory_reads_their_alerts() -> None:
    check_read("bd-sgddt", "p-bd-sgddt-officer-1", PersonAgency("bd-sgddt", "directory"))


def test_the_agency_on_their_alerts_reads_them_when_the_directory_does_not_know_the_person() -> None:
    check_read("so-bench", "bench-person-001", PersonAgency("so-bench", "alerts"))


def test_another_agency_is_refused_saying_whose_person_it_is_and_what_is_accepted() -> None:
    with pytest.raises(Refused) as refused:
        check_read("bd-stc", "p-bd-sgddt-officer-1", PersonAgency("bd-sgddt", "directory"))
    assert refused.value.status_code == 403 and refused.value.code == "not-persons-agency"
    assert "only a token of bd-sgddt" in str(refused.value) and "per the directory" in str(refused.value)
    assert "chỉ mã xác thực của chính bd-sgddt" in refused.value.message_vi
    assert "bd-stc" in refused.value.message_vi


def test_an_ancestor_agency_is_refused_too_leaders_see_figures_in_reports() -> None:
    # The province over the department: an inbox is personal, not the hierarchy's.
    with pytest.raises(Refused) as refused:
        check_read("ubnd-bd", "p-bd-sgddt-officer-1", PersonAgency("bd-sgddt", "directory"))
    assert refused.value.code == "not-persons-agency" and "báo cáo" in refused.value.message_vi


def test_nobody_reads_the_alerts_of_a_person_whose_agency_is_unknown() -> None:
    with pytest.raises(Refused) as refused:
        check_read("bd-sgddt", "p-nobody", PersonAgency())
    assert refused.value.code == "person-agency-unknown"
    assert "Chưa xác định được cơ quan của p-nobody" in refused.value.message_vi
