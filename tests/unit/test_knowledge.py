"""The knowledge files load, hold together, and every code not yet verified is listed in the README."""

from __future__ import annotations

import re
from pathlib import Path

from cds_service.knowledge import Knowledge
from cds_service.knowledge.vocabulary import Role

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_unverified_code_is_listed_in_the_readme(knowledge: Knowledge) -> None:
    section = README.split("### Codes to verify before clinical use", 1)[1]
    entries = [*knowledge.codes.unverified, *knowledge.context.unverified]
    assert entries
    for entry in entries:
        for code in re.findall(r"[A-Z]*\d[\w.\-]*", entry.split("|")[-1]):
            assert code in section, f"{code} ({entry}) is unverified but not listed in the README"


def test_r2_trap_basophils_percent_has_no_role(knowledge: Knowledge) -> None:
    codes = [c for role_codes in knowledge.codes.codes_by_role.values() for c in role_codes]
    assert "30180-4" not in codes  # basophils %, the R2 trap (a code under two roles the loader refuses itself)


def test_every_temperature_code_has_a_route(knowledge: Knowledge) -> None:
    assert set(knowledge.codes.codes_by_role[Role.TEMPERATURE]) == set(knowledge.codes.temperature_route)


def test_r9_drug_list_codes_from_the_rules(knowledge: Knowledge) -> None:
    """RULES R9 names these RxNorm ingredients; the data file must carry each one."""
    for code in ("2626", "2002", "2020", "6835", "8794", "9524", "3108", "10831", "121191", "1256", "103", "10485",
                 "7145", "6851", "2348", "11118"):
        assert code in knowledge.context.associated_drugs
    assert knowledge.context.clozapine == "2626"
