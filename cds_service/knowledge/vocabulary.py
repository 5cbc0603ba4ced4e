"""The words the knowledge files and the clinical rules share: roles of results, kinds of quantity, severity bands,
the basis of a lower limit, and the other names of the code systems they read. They live with the knowledge, which the
clinical core reads (never the other way)."""

from __future__ import annotations

import enum
from typing import Any


class Role(enum.StrEnum):
    """What an Observation measures, by its LOINC code (R2)."""

    ANC = "anc"
    SEGS = "segs"
    BANDS = "bands"
    WBC = "wbc"
    NEUT_PCT = "neut_pct"
    SEGS_PCT = "segs_pct"
    BANDS_PCT = "bands_pct"
    TEMPERATURE = "temperature"
    BIRTH_WEIGHT = "birth_weight"


class Measure(enum.StrEnum):
    """The kind of quantity a role carries (R2 trap: counts and percentages never mix)."""

    COUNT = "count"
    PERCENT = "percent"
    TEMPERATURE = "temperature"
    MASS = "mass"


class Severity(enum.StrEnum):
    """R5 severity bands; `none` means at or above the lower limit of normal."""

    NONE = "none"
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class LlnBasis(enum.StrEnum):
    """Which R5 row set the lower limit of normal."""

    NEONATE_UNDER_72H = "neonate-under-72h"
    NEONATE = "neonate"
    INFANT = "infant"
    STANDARD = "standard"
    VERY_LOW_BIRTH_WEIGHT = "very-low-birth-weight"
    AGE_UNKNOWN = "age-unknown"


# The code systems the rules read, by the OID HL7 Terminology (THO) gives as each CodeSystem's identifier: records
# converted from C-CDA or HL7 v2, and sites' own configuration, name their systems so. Read as the system's URL
# (FHIR's own name for it) wherever a code is read.
SYSTEM_BY_OID = {
    "urn:oid:2.16.840.1.113883.6.1": "http://loinc.org",
    "urn:oid:2.16.840.1.113883.6.8": "http://unitsofmeasure.org",
    "urn:oid:2.16.840.1.113883.6.88": "http://www.nlm.nih.gov/research/umls/rxnorm",
    "urn:oid:2.16.840.1.113883.6.96": "http://snomed.info/sct",
    "urn:oid:2.16.840.1.113883.6.90": "http://hl7.org/fhir/sid/icd-10-cm",
    "urn:oid:2.16.840.1.113883.12.292": "http://hl7.org/fhir/sid/cvx",
    "urn:oid:2.16.840.1.113883.6.73": "http://www.whocc.no/atc",
}


# The same systems as records write their URLs in the wild: https for http, with or without "www." before the host, a
# trailing slash, capitals ("Https://loinc.org/"). None of these spellings names another code system: each is read
# as FHIR's URL.
def _spellings(url: str) -> set[str]:
    host, _, path = url.removeprefix("http://").partition("/")
    bare = host.removeprefix("www.")
    return {f"{scheme}{name}{'/' + path if path else ''}{slash}"
            for scheme in ("http://", "https://") for name in (bare, "www." + bare) for slash in ("", "/")}


SYSTEM_URLS = frozenset(SYSTEM_BY_OID.values())  # FHIR's own names, as most records write them
SYSTEM_BY_NAME = {**{spelling: url for url in SYSTEM_URLS for spelling in _spellings(url)},
                  **SYSTEM_BY_OID}


def canonical_system(system: Any) -> Any:
    """A code system by FHIR's URL when it was named by its OID or by another spelling of that URL (SYSTEM_BY_NAME);
    anything else as it is."""
    if not isinstance(system, str):
        return system
    return SYSTEM_BY_NAME.get(system) or SYSTEM_BY_NAME.get(system.lower(), system)


def status_code(value: str) -> str:
    """A FHIR status code as feeds write it -- "Final", "ACTIVE", " completed" -- read in any case, without spaces
    around it, as the rules name it (FHIR's status codes are all lower case)."""
    return value.strip().lower()
