"""Clinical knowledge (codes, units, thresholds) read once from the TOML files beside this module."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from typing import Any

from cds_service.clinical.model import LlnBasis, Measure, Role, Severity

_DURATION = re.compile(r"^(\d+)([hdy])$")


class KnowledgeError(ValueError):
    """A knowledge file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Duration:
    """An age or window: hours, days, or calendar years."""

    amount: int
    unit: str  # "h", "d" or "y"

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _DURATION.match(text)
        if not match:
            raise KnowledgeError(f"duration {text!r} is not a number followed by h, d or y")
        return cls(int(match.group(1)), match.group(2))


@dataclass(frozen=True)
class AgeBand:
    """R5: a lower limit of normal for ages below `below` (None: every older age)."""

    below: Duration | None
    lln: Decimal
    basis: LlnBasis


@dataclass(frozen=True)
class Codes:
    """R2: LOINC codes by role."""

    system: str
    role_by_code: Mapping[str, Role]
    codes_by_role: Mapping[Role, tuple[str, ...]]
    measure_by_role: Mapping[Role, Measure]


@dataclass(frozen=True)
class Units:
    """R3: UCUM codes and display strings understood, by measure. Display keys are case-folded."""

    ucum: Mapping[Measure, Mapping[str, Any]]
    display: Mapping[Measure, Mapping[str, Any]]


@dataclass(frozen=True)
class Thresholds:
    """R1, R4, R5, R6 numbers; see thresholds.toml for each one's source."""

    usable_statuses: frozenset[str]  # R1
    preliminary_statuses: frozenset[str]  # R1
    mismatch_fraction: Decimal  # R4
    wbc_bound_below: Decimal  # R4
    age_bands: tuple[AgeBand, ...]  # R5
    vlbw_birth_weight_below_g: Decimal  # R5
    vlbw_from: Duration  # R5
    vlbw_until: Duration  # R5
    vlbw_lln: Decimal  # R5
    birth_weight_relevant_until: Duration  # R5
    general_lln: Decimal  # R5
    mild_from: Decimal  # R5
    moderate_from: Decimal  # R5
    profound_below: Decimal  # R5
    indicator: Mapping[Severity, str]  # R5
    indicator_by_finding: Mapping[str, str]  # R6, R10
    ctcae_g1_from: Decimal  # R5 (CTCAE v5.0)
    ctcae_g2_from: Decimal  # R5
    ctcae_g3_from: Decimal  # R5
    current_window_days: int  # R6 POLICY
    lookback_days: int  # R6 POLICY
    trend_window_days: int  # R6
    trend_values: int  # R6
    falling_below_fraction: Decimal  # R6
    recovering_above_fraction: Decimal  # R6


@dataclass(frozen=True)
class Knowledge:
    """Everything the clinical core needs to know, loaded once at start."""

    codes: Codes
    units: Units
    thresholds: Thresholds

    def with_policy(self, current_window_days: int, lookback_days: int) -> Knowledge:
        """The same knowledge with the R6 POLICY windows replaced by site configuration."""
        if current_window_days <= 0 or lookback_days <= 0:
            raise KnowledgeError("R6 windows must be positive numbers of days")
        thresholds = dataclasses.replace(
            self.thresholds, current_window_days=current_window_days, lookback_days=lookback_days
        )
        return dataclasses.replace(self, thresholds=thresholds)


def fold_unit(text: str) -> str:
    """R3.2: display units match case-insensitively, with both micro signs read as 'u'."""
    return text.strip().replace("\u00b5", "u").replace("\u03bc", "u").casefold()


def _read(name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise KnowledgeError(f"knowledge file {name}: {exc}") from exc


def _dec(value: Any, where: str) -> Decimal:
    if not isinstance(value, str | int):
        raise KnowledgeError(f"{where} must be a number written as a string or an integer, not {value!r}")
    try:
        return Decimal(str(value))
    except ArithmeticError as exc:
        raise KnowledgeError(f"{where}: {value!r} is not a number") from exc


def _codes(data: dict[str, Any]) -> Codes:
    role_by_code: dict[str, Role] = {}
    codes_by_role: dict[Role, tuple[str, ...]] = {}
    for role_name, codes in data["roles"].items():
        role = Role(role_name)
        codes_by_role[role] = tuple(codes)
        for code in codes:
            if code in role_by_code:
                raise KnowledgeError(f"LOINC {code} is listed under both {role_by_code[code]} and {role}")
            role_by_code[code] = role
    measure_by_role = {Role(r): Measure(m) for r, m in data["measure"].items()}
    missing = set(codes_by_role) - set(measure_by_role)
    if missing:
        raise KnowledgeError(f"loinc.toml: no measure for roles {sorted(missing)}")
    return Codes(data["system"], role_by_code, codes_by_role, measure_by_role)


def _units(data: dict[str, Any]) -> Units:
    ucum = {Measure(m): dict(table) for m, table in data["ucum"].items()}
    display = {Measure(m): {fold_unit(k): v for k, v in table.items()} for m, table in data["display"].items()}
    return Units(ucum, display)


def _thresholds(data: dict[str, Any]) -> Thresholds:
    r1, r4, r5, r6 = data["R1"], data["R4"], data["R5"], data["R6"]
    bands = []
    for row in r5["lln_by_age"]:
        below = Duration.parse(row["below"]) if row["below"] else None
        bands.append(AgeBand(below, _dec(row["lln"], "R5.lln_by_age.lln"), LlnBasis(row["basis"])))
    if not bands or bands[-1].below is not None:
        raise KnowledgeError("R5.lln_by_age must end with a row for every older age (below = \"\")")
    return Thresholds(
        usable_statuses=frozenset(r1["usable_statuses"]),
        preliminary_statuses=frozenset(r1["preliminary_statuses"]),
        mismatch_fraction=_dec(r4["reported_computed_mismatch_fraction"], "R4.mismatch"),
        wbc_bound_below=_dec(r4["wbc_bound_below"], "R4.wbc_bound_below"),
        age_bands=tuple(bands),
        vlbw_birth_weight_below_g=_dec(r5["vlbw_birth_weight_below_g"], "R5.vlbw_birth_weight_below_g"),
        vlbw_from=Duration.parse(r5["vlbw_from"]),
        vlbw_until=Duration.parse(r5["vlbw_until"]),
        vlbw_lln=_dec(r5["vlbw_lln"], "R5.vlbw_lln"),
        birth_weight_relevant_until=Duration.parse(r5["birth_weight_relevant_until"]),
        general_lln=_dec(r5["general_lln"], "R5.general_lln"),
        mild_from=_dec(r5["mild_from"], "R5.mild_from"),
        moderate_from=_dec(r5["moderate_from"], "R5.moderate_from"),
        profound_below=_dec(r5["profound_below"], "R5.profound_below"),
        indicator={Severity(k): v for k, v in r5["indicator"].items()},
        indicator_by_finding=dict(data["indicator_by_finding"]),
        ctcae_g1_from=_dec(r5["ctcae_g1_from"], "R5.ctcae_g1_from"),
        ctcae_g2_from=_dec(r5["ctcae_g2_from"], "R5.ctcae_g2_from"),
        ctcae_g3_from=_dec(r5["ctcae_g3_from"], "R5.ctcae_g3_from"),
        current_window_days=int(r6["current_window_days"]),
        lookback_days=int(r6["lookback_days"]),
        trend_window_days=int(r6["trend_window_days"]),
        trend_values=int(r6["trend_values"]),
        falling_below_fraction=_dec(r6["falling_below_fraction"], "R6.falling_below_fraction"),
        recovering_above_fraction=_dec(r6["recovering_above_fraction"], "R6.recovering_above_fraction"),
    )


def load_knowledge() -> Knowledge:
    """Read and check the knowledge files; raises KnowledgeError with the file and key at fault."""
    try:
        return Knowledge(
            codes=_codes(_read("loinc.toml")),
            units=_units(_read("units.toml")),
            thresholds=_thresholds(_read("thresholds.toml")),
        )
    except (KeyError, ValueError) as exc:
        if isinstance(exc, KnowledgeError):
            raise
        raise KnowledgeError(f"knowledge files: missing or invalid entry {exc}") from exc
