"""Clinical knowledge (codes, units, thresholds) read once from the TOML files beside this module."""

from __future__ import annotations

import dataclasses
import functools
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, tzinfo
from decimal import Decimal
from importlib import resources
from typing import Any

from cds_service.knowledge.vocabulary import LlnBasis, Measure, Role, Severity, canonical_system

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
    temperature_route: Mapping[str, str]  # R7: reported, never corrected
    unverified: tuple[str, ...]
    panels: frozenset[str] = frozenset()  # R1: CBC and differential panels (hasMember)
    preferred_by_role: Mapping[Role, tuple[str, ...]] = dataclasses.field(default_factory=dict)  # R2, in order

    @functools.cached_property
    def rank_by_role(self) -> Mapping[Role, Mapping[str, int]]:
        """R2: the place of each preferred code of a role, the first most preferred (computed once, not per request);
        a role's other codes have none (R4 then takes the lowest value)."""
        return {role: {code: i for i, code in enumerate(self.preferred_by_role.get(role, ()))}
                for role in self.codes_by_role}


@dataclass(frozen=True)
class Cause:
    """R8: a condition among the founding document's causes, by ICD-10-CM prefix or exact SNOMED CT code."""

    name: str
    icd10cm_prefixes: tuple[str, ...]
    snomed: frozenset[str]


@dataclass(frozen=True)
class Statuses:
    """R7/R8: which FHIR statuses make a medication, procedure or condition count."""

    given: Mapping[str, frozenset[str]]  # by resource type: a dose given or started
    active: Mapping[str, frozenset[str]]  # by resource type: taken (a Procedure: performed) now
    procedure_done: frozenset[str]
    condition_active: frozenset[str]
    condition_void: frozenset[str]
    draft_not_checked: frozenset[str]  # R9


@dataclass(frozen=True)
class DuffyCodes:
    """R8: how a documented Duffy-null status is recognised."""

    genotype_code: str
    variant_present: str
    gene_component: str
    gene: str
    dbsnp_component: str
    dbsnp: str
    allelic_state_component: str
    homozygous: str
    fya_code: str
    fyb_code: str
    negative_codes: frozenset[str]
    site_codes: frozenset[tuple[str, str]]  # (system, code)

    @property
    def observation_codes(self) -> frozenset[str]:
        """LOINC codes of the Observations that can document Duffy-null status."""
        return frozenset({self.genotype_code, self.fya_code, self.fyb_code})


@dataclass(frozen=True)
class Product:
    """R9 evidence 3: an RxNorm product (SCD, SBD, GPCK, BPCK) and what it contains."""

    name: str
    tty: str
    ingredients: tuple[str, ...]  # ingredient keys
    cvx: str | None  # a vaccine product: its CVX code


class Words:
    """A fixed set of names found in a text as whole words, case-insensitively (R9: whole-word names).

    The names are compiled as a trie (names sharing a beginning share one branch) and matched against the
    case-folded text, so a search costs a few steps per character of the text, whatever the number of names and
    however long the text a client sends."""

    def __init__(self, names: Iterable[str]) -> None:
        trie: dict[str, Any] = {}
        for name in {n.casefold() for n in names}:
            node = trie
            for char in name:
                node = node.setdefault(char, {})
            node[""] = {}  # a name ends here
        self._pattern = re.compile(r"(?<!\w)(" + _branches(trie) + r")(?!\w)") if trie else None

    def find(self, text: str) -> list[str]:
        """The names found in `text`, case-folded, in order; the longest where several begin at one place."""
        return [] if self._pattern is None else self._pattern.findall(text.casefold())

    def found_in(self, *texts: str) -> bool:
        """Whether any of the names is in any of the texts."""
        return self._pattern is not None and any(self._pattern.search(text.casefold()) for text in texts)


def _branches(node: dict[str, Any]) -> str:
    """The pattern of a trie node: its continuations, longer ones first, then the end of a name if one ends here."""
    ways = [re.escape(char) + _branches(rest) for char, rest in sorted(node.items()) if char]
    if not ways:
        return ""
    either = ways[0] if len(ways) == 1 else "(?:" + "|".join(ways) + ")"
    return f"(?:{either})?" if "" in node else either


@dataclass(frozen=True)
class DrugNames:
    """R9 evidence 4: listed ingredient and brand names, and the words that make a vaccine name live or not."""

    ingredient_by_name: Mapping[str, str]  # case-folded name -> ingredient key
    ingredients: Words  # the names above
    live: Words  # the word that makes a vaccine name live
    not_live: Words  # ... except beside these ("non-replicating")
    live_names: Words  # brands and abbreviations of live vaccines whose names do not say "live"
    live_generic: Words  # "yellow fever vaccine": every vaccine so named is live
    not_live_kinds: Words  # what R9 calls not live: "inactivated", "recombinant"...
    tests: Words  # "titer", "IgG": a test of immunity, named like the vaccine
    about: Words  # "counsel", "screening": an order about live vaccines, not of one
    non_systemic: Words  # dose forms: "Topical Gel", "Ophthalmic Gel", "Otic Solution"
    rectal: Words  # a rectal route or dose form named
    not_rectal: Words  # ... unless the name says vaginal or urethral, or forbids the route ("no rectal")


@dataclass(frozen=True)
class ContextKnowledge:
    """R7-R9 code lists: systems, antineoplastics, products, clozapine, associated drugs, causes, Duffy."""

    rxnorm: str
    atc: str
    snomed: str
    icd10cm: str
    atc_antineoplastic_prefix: str
    chemo_procedure_codes: frozenset[str]
    chemo_window_from_days: int  # R7 POLICY
    chemo_window_to_days: int  # R7 POLICY
    antineoplastics: Mapping[str, str]  # ingredient key (RxNorm ingredient, or "name:X") -> name
    products: Mapping[str, Product]  # R9 evidence 3: RxNorm SCD/SBD/GPCK/BPCK -> ingredients or CVX
    drug_names: DrugNames  # R9 evidence 4
    clozapine: str
    associated_drugs: Mapping[str, str]  # ingredient key -> name (R8 causes, R9)
    causes: tuple[Cause, ...]
    duffy: DuffyCodes
    cvx: str  # R9
    live_vaccines: frozenset[str]  # R9, CVX
    not_live_vaccines: frozenset[str]  # R9, CVX
    rectal_route: frozenset[str]  # R9, SNOMED CT route
    non_systemic_routes: frozenset[str]  # R9, SNOMED CT routes: topical, ophthalmic, otic
    cbc_loinc: str  # R9
    cbc_display: str
    cbc_differential_codes: frozenset[str]  # R9: a CBC with differential already drafted -- by LOINC code
    cbc_names: Words  # ... or named: "CBC" with
    differential_names: Words  # "diff"
    statuses: Statuses
    unverified: tuple[str, ...]  # "system|code name" of every code not checked against its release

    @functools.cached_property
    def _cause_prefixes(self) -> tuple[str, ...]:
        return tuple(prefix for cause in self.causes for prefix in cause.icd10cm_prefixes)

    def cause_named(self, system: str | None, code: str | None) -> str | None:
        """R8: the cause a condition code stands for (ICD-10-CM by prefix, SNOMED CT exactly), or None."""
        code = code or ""
        if system == self.icd10cm and not code.startswith(self._cause_prefixes):
            return None  # most conditions: no cause of neutropenia, told in one step
        for cause in self.causes:
            if (system == self.icd10cm and code.startswith(cause.icd10cm_prefixes)) or (
                system == self.snomed and code in cause.snomed
            ):
                return cause.name
        return None


@dataclass(frozen=True)
class Units:
    """R3: UCUM codes and display strings understood, by measure. Display keys are case-folded."""

    ucum: Mapping[Measure, Mapping[str, Any]]
    display: Mapping[Measure, Mapping[str, Any]]


def _rule(section: str, kind: str = "number") -> dict[str, str]:
    """Where a threshold is read: its rule's section of thresholds.toml (under the field's own name), and how."""
    return {"section": section, "kind": kind}


@dataclass(frozen=True)
class Thresholds:
    """R1, R4-R9 numbers, each read from its rule's section of thresholds.toml (which gives each one's source)."""

    usable_statuses: frozenset[str] = dataclasses.field(metadata=_rule("R1", "set"))
    preliminary_statuses: frozenset[str] = dataclasses.field(metadata=_rule("R1", "set"))
    never_statuses: frozenset[str] = dataclasses.field(metadata=_rule("R1", "set"))
    reported_computed_mismatch_fraction: Decimal = dataclasses.field(metadata=_rule("R4"))
    age_bands: tuple[AgeBand, ...] = dataclasses.field(metadata=_rule("R5", "bands"))
    vlbw_birth_weight_below_g: Decimal = dataclasses.field(metadata=_rule("R5"))
    vlbw_from: Duration = dataclasses.field(metadata=_rule("R5", "duration"))
    vlbw_until: Duration = dataclasses.field(metadata=_rule("R5", "duration"))
    vlbw_lln: Decimal = dataclasses.field(metadata=_rule("R5"))
    birth_weight_relevant_until: Duration = dataclasses.field(metadata=_rule("R5", "duration"))
    general_lln: Decimal = dataclasses.field(metadata=_rule("R5"))
    mild_from: Decimal = dataclasses.field(metadata=_rule("R5"))
    moderate_from: Decimal = dataclasses.field(metadata=_rule("R5"))
    profound_below: Decimal = dataclasses.field(metadata=_rule("R5"))
    indicator: Mapping[Severity, str] = dataclasses.field(metadata=_rule("R5", "indicators"))
    ctcae_g1_from: Decimal = dataclasses.field(metadata=_rule("R5"))
    ctcae_g2_from: Decimal = dataclasses.field(metadata=_rule("R5"))
    ctcae_g3_from: Decimal = dataclasses.field(metadata=_rule("R5"))
    current_window_days: int = dataclasses.field(metadata=_rule("R6", "whole"))  # POLICY
    lookback_days: int = dataclasses.field(metadata=_rule("R6", "whole"))  # POLICY
    furthest_ahead_hours: int = dataclasses.field(metadata=_rule("R6", "whole"))  # the safer reading of "latest"
    trend_window_days: int = dataclasses.field(metadata=_rule("R6", "whole"))
    trend_values: int = dataclasses.field(metadata=_rule("R6", "whole"))
    falling_below_fraction: Decimal = dataclasses.field(metadata=_rule("R6"))
    recovering_above_fraction: Decimal = dataclasses.field(metadata=_rule("R6"))
    # R6, R10: the indicator of each finding that is no R5 severity
    indicator_by_finding: Mapping[str, str] = dataclasses.field(metadata=_rule("indicator_by_finding", "table"))
    single_fever_from_c: Decimal = dataclasses.field(metadata=_rule("R7"))
    sustained_fever_from_c: Decimal = dataclasses.field(metadata=_rule("R7"))
    sustained_minutes: int = dataclasses.field(metadata=_rule("R7", "whole"))
    fever_window_hours: int = dataclasses.field(metadata=_rule("R7", "whole"))  # POLICY
    body_temperature_from_c: Decimal = dataclasses.field(metadata=_rule("R7"))  # POLICY (R10: data validity)
    body_temperature_to_c: Decimal = dataclasses.field(metadata=_rule("R7"))
    fn_anc_below: Decimal = dataclasses.field(metadata=_rule("R7"))
    fn_chemotherapy_anc_below: Decimal = dataclasses.field(metadata=_rule("R7"))
    duffy_range_from: Decimal = dataclasses.field(metadata=_rule("R8"))
    duffy_range_below: Decimal = dataclasses.field(metadata=_rule("R8"))
    live_vaccine_critical_below: Decimal = dataclasses.field(metadata=_rule("R9"))
    live_vaccine_chemotherapy_days: int = dataclasses.field(metadata=_rule("R9", "whole"))
    antineoplastic_critical_below: Decimal = dataclasses.field(metadata=_rule("R9"))
    antineoplastic_warning_below: Decimal = dataclasses.field(metadata=_rule("R9"))
    clozapine_general_normal_from: Decimal = dataclasses.field(metadata=_rule("R9"))  # R8, the label's bands
    clozapine_general_mild_from: Decimal = dataclasses.field(metadata=_rule("R9"))
    clozapine_general_moderate_from: Decimal = dataclasses.field(metadata=_rule("R9"))
    clozapine_duffy_null_normal_from: Decimal = dataclasses.field(metadata=_rule("R9"))
    clozapine_duffy_null_moderate_from: Decimal = dataclasses.field(metadata=_rule("R9"))
    clozapine_start_general: Decimal = dataclasses.field(metadata=_rule("R9"))
    clozapine_start_duffy_null: Decimal = dataclasses.field(metadata=_rule("R9"))
    clozapine_critical_below: Decimal = dataclasses.field(metadata=_rule("R9"))
    associated_warning_below: Decimal = dataclasses.field(metadata=_rule("R9"))
    associated_critical_below: Decimal = dataclasses.field(metadata=_rule("R9"))
    rectal_warning_below: Decimal = dataclasses.field(metadata=_rule("R9"))


@dataclass(frozen=True)
class Knowledge:
    """Everything the clinical core needs to know, loaded once at start."""

    codes: Codes
    units: Units
    thresholds: Thresholds
    context: ContextKnowledge
    # The site's time zone: a FHIR date with no time (or a time with no offset) is read in it, the calendar days of R7
    # and R8 ("3 to 14 days before") are its days, and cards show its clock. UTC unless the site sets one.
    zone: tzinfo = UTC

    def configured(
        self, current_window_days: int, lookback_days: int, duffy_null_codes: tuple[tuple[str, str], ...] = (),
        zone: tzinfo = UTC,
    ) -> Knowledge:
        """The same knowledge with site configuration: the R6 POLICY windows, the R8 Duffy-null value set and the
        site's time zone."""
        if current_window_days <= 0 or lookback_days <= 0:
            raise KnowledgeError("R6 windows must be positive numbers of days")
        thresholds = dataclasses.replace(
            self.thresholds, current_window_days=current_window_days, lookback_days=lookback_days
        )
        site_codes = self.context.duffy.site_codes | set(duffy_null_codes)
        duffy = dataclasses.replace(self.context.duffy, site_codes=site_codes)
        return dataclasses.replace(self, thresholds=thresholds, context=dataclasses.replace(self.context, duffy=duffy),
                                   zone=zone)

    @functools.cached_property
    def duffy_observation_codes(self) -> frozenset[tuple[str, str]]:
        """R8: (system, code) of the Observations that can document Duffy-null status -- the LOINC codes and the
        site's own -- computed once, not per request."""
        duffy = self.context.duffy
        return duffy.site_codes | {(self.codes.system, code) for code in duffy.observation_codes}


# R3.2, units as printed: the micro signs as "u"; the degree sign's look-alikes (the ordinal indicator of "\u00baF",
# the ring above) as it, and the one-character degree Celsius and Fahrenheit signs as two; the multiplication sign
# as "x"; a power of ten written in superscript digits as a caret ("\u00d710\u2079/L" is x10^9/L), any other
# superscript digits as digits ("mm\u00b3" is mm3)
_PRINTED = str.maketrans({"\u00b5": "u", "\u03bc": "u", "\u00ba": "\u00b0", "\u02da": "\u00b0", "\u2103": "\u00b0C",
                          "\u2109": "\u00b0F", "\u00d7": "x"})
_POWER_OF_TEN = re.compile("10(?=[\u2070\u00b9\u00b2\u00b3\u2074-\u2079])")
_SUPERSCRIPT_DIGITS = str.maketrans("\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079", "0123456789")


def fold_unit(text: str) -> str:
    """R3.2: display units match case-insensitively and whatever their spaces ("deg F" is degF), with the signs of
    printed units read as typed (_PRINTED)."""
    text = "".join(text.split())
    if not text.isascii():
        text = _POWER_OF_TEN.sub("10^", text.translate(_PRINTED)).translate(_SUPERSCRIPT_DIGITS)
    return text.casefold()


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
    panels = frozenset(data["panels"]["codes"])
    if panels & set(role_by_code):
        raise KnowledgeError(f"loinc.toml: panel codes also listed under a role: {sorted(panels & set(role_by_code))}")
    preferred = {Role(r): tuple(codes) for r, codes in data.get("preferred", {}).items()}
    for role, codes in preferred.items():
        if not set(codes) <= set(codes_by_role.get(role, ())):
            raise KnowledgeError(f"loinc.toml: preferred {role} codes not listed under the role: {sorted(codes)}")
    return Codes(data["system"], role_by_code, codes_by_role, measure_by_role, dict(data["temperature_route"]),
                 tuple(data["unverified"]["codes"]), panels, preferred)


def _factor(value: Any, where: str) -> Any:
    """A conversion factor as a Decimal, read once; a temperature's scale ("C" or "F") stays a string."""
    return value if isinstance(value, str) and value in ("C", "F") else _dec(value, where)


def _units(data: dict[str, Any]) -> Units:
    ucum = {Measure(m): {k: _factor(v, f"units.toml ucum.{m}.{k}") for k, v in table.items()}
            for m, table in data["ucum"].items()}
    display = {Measure(m): {fold_unit(k): _factor(v, f"units.toml display.{m}.{k}") for k, v in table.items()}
               for m, table in data["display"].items()}
    return Units(ucum, display)


def _age_bands(rows: list[dict[str, Any]]) -> tuple[AgeBand, ...]:
    bands = []
    for row in rows:
        below = Duration.parse(row["below"]) if row["below"] else None
        bands.append(AgeBand(below, _dec(row["lln"], "R5.lln_by_age.lln"), LlnBasis(row["basis"])))
    if not bands or bands[-1].below is not None:
        raise KnowledgeError("R5.lln_by_age must end with a row for every older age (below = \"\")")
    return tuple(bands)


_READERS: dict[str, Any] = {
    "number": _dec,
    "whole": lambda value, where: int(value),
    "set": lambda value, where: frozenset(value),
    "duration": lambda value, where: Duration.parse(value),
    "bands": lambda value, where: _age_bands(value),
    "indicators": lambda value, where: {Severity(k): v for k, v in value.items()},
    "table": lambda value, where: dict(value),
}
_TOML_NAMES = {"age_bands": "lln_by_age"}  # where a field's name in the file differs


def _thresholds(data: dict[str, Any]) -> Thresholds:
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(Thresholds):
        section, kind = spec.metadata["section"], spec.metadata["kind"]
        key = _TOML_NAMES.get(spec.name, spec.name)
        source = data[section] if kind != "table" else data
        values[spec.name] = _READERS[kind](source[key], f"{section}.{key}")
    return Thresholds(**values)


def ingredient_key(entry: Mapping[str, Any]) -> str:
    """A listed drug's key: its RxNorm ingredient code, or "name:X" for one listed without a code (R9)."""
    return str(entry["rxnorm"]) if "rxnorm" in entry else f"name:{entry['name']}"


def _drug_list(entries: list[dict[str, Any]], unverified: list[str], names: dict[str, str]) -> dict[str, str]:
    """Listed drugs by ingredient key; their ingredient and brand names and abbreviations go into `names` (R9
    evidence 4)."""
    found: dict[str, str] = {}
    for entry in entries:
        key = ingredient_key(entry)
        found[key] = str(entry["name"])
        abbreviations = entry.get("abbreviations", [])
        for name in [entry["name"], *entry.get("names", []), *abbreviations]:
            if " / " not in name:  # a combination's own name is matched through its components' names
                names.setdefault(name.casefold(), key)
        if abbreviations:
            unverified.append(f"abbreviations of {entry['name']}: {', '.join(abbreviations)}")
        if not entry.get("verified", False):
            unverified.append(f"RxNorm|{entry['rxnorm']} {entry['name']}" if "rxnorm" in entry
                              else f"{entry['name']} (by name, no RxNorm code)")
    return found


def _products(data: dict[str, Any], known: set[str], cvx_codes: set[str], unverified: list[str]) -> dict[str, Product]:
    products: dict[str, Product] = {}
    for entry in data["product"]:
        code = str(entry["rxnorm"])
        if code in products:
            raise KnowledgeError(f"products.toml: RxNorm {code} is listed twice")
        ingredients = tuple(str(i) for i in entry.get("ingredients", ()))
        cvx = entry.get("cvx")
        unknown = set(ingredients) - known
        if unknown or (cvx is not None and cvx not in cvx_codes) or not (ingredients or cvx):
            raise KnowledgeError(f"products.toml: RxNorm {code} maps to nothing listed ({sorted(unknown) or cvx})")
        if entry["tty"] not in ("SCD", "SBD", "GPCK", "BPCK"):
            raise KnowledgeError(f"products.toml: RxNorm {code} has term type {entry['tty']!r}")
        products[code] = Product(str(entry["name"]), str(entry["tty"]), ingredients, cvx)
        if not entry.get("verified", False):
            unverified.append(f"RxNorm|{code} {entry['name']}")
    return products


def _context(data: dict[str, Any], product_data: dict[str, Any]) -> ContextKnowledge:
    systems, chemo, clozapine, duffy = data["systems"], data["chemotherapy"], data["clozapine"], data["duffy"]
    orders = data["orders"]
    unverified: list[str] = []
    names: dict[str, str] = {}
    antineoplastics = _drug_list(data["antineoplastic"], unverified, names)
    associated = _drug_list(data["associated_drug"], unverified, names)
    products = _products(product_data, {*antineoplastics, *associated},
                         {*orders["live_vaccines_cvx"], *orders["not_live_vaccines_cvx"]}, unverified)
    if not orders.get("live_vaccine_brands_verified", False):
        unverified.append("live-vaccine brand names " + ", ".join(orders["live_vaccine_brands"]))
    if not orders.get("live_vaccine_abbreviations_verified", False):
        unverified.append("live-vaccine abbreviations " + ", ".join(orders["live_vaccine_abbreviations"]))
    if not orders.get("live_vaccine_generic_names_verified", False):
        unverified.append("live-vaccine generic names " + ", ".join(orders["live_vaccine_generic_names"]))
    unverified.append("SNOMED CT " + ", ".join(orders["non_systemic_routes_snomed"]) + " non-systemic routes")
    causes = []
    for entry in data["cause"]:
        causes.append(Cause(entry["name"], tuple(entry["icd10cm"]), frozenset(entry["snomed"])))
        if not entry.get("verified", False):
            codes = [*entry["icd10cm"], *entry["snomed"]]
            unverified.append(f"ICD-10-CM/SNOMED CT {', '.join(codes)} {entry['name']}")
    overlap = set(data["orders"]["live_vaccines_cvx"]) & set(data["orders"]["not_live_vaccines_cvx"])
    if overlap:
        raise KnowledgeError(f"CVX codes listed as both live and not live: {sorted(overlap)}")
    unverified.append("CVX 140, 141, 150, 158, 161, 197 inactivated influenza (listed as not live)")
    if not duffy.get("negative_codes_verified", False):
        unverified.append(f"LOINC/SNOMED CT {', '.join([*duffy['negative_loinc'], *duffy['negative_snomed']])} "
                          "negative and absent answers")
    return ContextKnowledge(
        rxnorm=systems["rxnorm"],
        atc=systems["atc"],
        snomed=systems["snomed"],
        icd10cm=systems["icd10cm"],
        atc_antineoplastic_prefix=chemo["atc_prefix"],
        chemo_procedure_codes=frozenset(chemo["procedure_snomed"]),
        chemo_window_from_days=int(chemo["window_from_days"]),
        chemo_window_to_days=int(chemo["window_to_days"]),
        antineoplastics=antineoplastics,
        products=products,
        drug_names=DrugNames(
            ingredient_by_name=names,
            ingredients=Words(names),
            live=Words([orders["live_word"]]),
            not_live=Words(orders["not_live_words"]),
            live_names=Words([*orders["live_vaccine_brands"], *orders["live_vaccine_abbreviations"]]),
            live_generic=Words(orders["live_vaccine_generic_names"]),
            not_live_kinds=Words(orders["not_live_kind_words"]),
            tests=Words(orders["test_words"]),
            about=Words(orders["about_vaccine_words"]),
            non_systemic=Words(orders["non_systemic_dose_forms"]),
            rectal=Words(orders["rectal_route_words"]),
            not_rectal=Words(orders["not_rectal_words"]),
        ),
        clozapine=clozapine["rxnorm"],
        associated_drugs=associated,
        causes=tuple(causes),
        duffy=DuffyCodes(
            genotype_code=duffy["genotype_code"],
            variant_present=duffy["variant_present"],
            gene_component=duffy["gene_component"],
            gene=duffy["gene"],
            dbsnp_component=duffy["dbsnp_component"],
            dbsnp=duffy["dbsnp"],
            allelic_state_component=duffy["allelic_state_component"],
            homozygous=duffy["homozygous"],
            fya_code=duffy["fya_code"],
            fyb_code=duffy["fyb_code"],
            negative_codes=frozenset([*duffy["negative_loinc"], *duffy["negative_snomed"]]),
            site_codes=frozenset(parse_system_codes(duffy["site_codes"])),
        ),
        cvx=data["orders"]["cvx"],
        live_vaccines=frozenset(data["orders"]["live_vaccines_cvx"]),
        not_live_vaccines=frozenset(data["orders"]["not_live_vaccines_cvx"]),
        rectal_route=frozenset(data["orders"]["rectal_route_snomed"]),
        non_systemic_routes=frozenset(orders["non_systemic_routes_snomed"]),
        cbc_loinc=data["orders"]["cbc_loinc"],
        cbc_display=data["orders"]["cbc_display"],
        cbc_differential_codes=frozenset(orders["cbc_differential_loinc"]),
        cbc_names=Words(orders["cbc_names"]),
        differential_names=Words(orders["differential_names"]),
        statuses=Statuses(
            given={kind: frozenset(data["statuses"][f"given_{kind}"])
                   for kind in ("MedicationAdministration", "MedicationRequest", "MedicationStatement")},
            active={kind: frozenset(data["statuses"][f"active_{kind}"])
                    for kind in ("MedicationRequest", "MedicationStatement", "Procedure")},
            procedure_done=frozenset(data["statuses"]["procedure_done"]),
            condition_active=frozenset(data["statuses"]["condition_active"]),
            condition_void=frozenset(data["statuses"]["condition_void"]),
            draft_not_checked=frozenset(data["statuses"]["draft_not_checked"]),
        ),
        unverified=tuple(unverified),
    )


def parse_system_codes(entries: list[str] | tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """'system|code' strings as (system, code) pairs, a system named by its OID as its URL (SYSTEM_BY_OID, as every
    code the service reads); KnowledgeError for one without both parts."""
    pairs = []
    for entry in entries:
        system, _, code = entry.strip().rpartition("|")
        if not system or not code:
            raise KnowledgeError(f"{entry!r} is not of the form system|code")
        pairs.append((canonical_system(system), code))
    return tuple(pairs)


def load_knowledge() -> Knowledge:
    """Read and check the knowledge files; raises KnowledgeError with the file and key at fault."""
    try:
        return Knowledge(
            codes=_codes(_read("loinc.toml")),
            units=_units(_read("units.toml")),
            thresholds=_thresholds(_read("thresholds.toml")),
            context=_context(_read("context.toml"), _read("products.toml")),
        )
    except (KeyError, ValueError) as exc:
        if isinstance(exc, KnowledgeError):
            raise
        raise KnowledgeError(f"knowledge files: missing or invalid entry {exc}") from exc
