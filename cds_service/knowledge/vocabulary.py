"""The words the knowledge files and the clinical rules share: roles of results, kinds of quantity, severity bands and
the basis of a lower limit. They live with the knowledge, which the clinical core reads (never the other way)."""

from __future__ import annotations

import enum


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
