"""The knowledge files load, hold together, and every code not yet verified is listed in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_service.knowledge import Knowledge, Words
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


# -- R9 evidence 4: names found as whole words, in any case ----------------------------------------------------------
NAMES = ["clozapine", "mycophenolic acid", "mycophenolate", "M-M-R II", "MMR", "interferon", "interferon alfa"]


def _whole_words(names: list[str], text: str) -> list[str]:
    """The definition: at each place a name begins and ends at no word character, the longest name there."""
    found, at = [], 0
    folded = text.casefold()
    while at <= len(folded):
        here = [n.casefold() for n in names if folded.startswith(n.casefold(), at)
                and (at == 0 or not re.match(r"\w", folded[at - 1]))
                and not re.match(r"\w", folded[at + len(n):at + len(n) + 1])]
        if here:
            longest = max(here, key=len)
            found.append(longest)
            at += len(longest)
        else:
            at += 1
    return found


@pytest.mark.parametrize(("text", "expected"), [
    ("Clozapine 100 MG Oral Tablet", ["clozapine"]),
    ("CLOZAPINE/clozapine", ["clozapine", "clozapine"]),
    ("clozapinex 5 MG", []),  # not the whole word
    ("xclozapine", []),
    ("mycophenolic acid 360 MG", ["mycophenolic acid"]),
    ("mycophenolic acidic", []),
    ("interferon alfa-2b", ["interferon alfa"]),  # the longest name beginning there
    ("interferon alfalfa", ["interferon"]),
    ("M-M-R II vaccine", ["m-m-r ii"]),
    ("mmr-ii", ["mmr"]),
    ("", []),
])
def test_r9_words_finds_whole_words(text: str, expected: list[str]) -> None:
    assert Words(NAMES).find(text) == expected
    assert Words(NAMES).found_in("no name here", text) is bool(expected)


@given(st.lists(st.sampled_from([*NAMES, *(n.upper() for n in NAMES), "clozapinex", "acid", "alfa", "x", "2b",
                                 " ", "-", "/", "_", "é", "ß"]), max_size=12))
def test_r9_words_agrees_with_the_definition(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert Words(NAMES).find(text) == _whole_words(NAMES, text)


def test_r9_words_of_no_names_finds_nothing() -> None:
    assert Words([]).find("clozapine") == []
    assert not Words([]).found_in("clozapine")
