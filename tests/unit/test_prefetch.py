"""What the service does without: CDS Hooks 2.0 prefetch states, read into the kinds of data missing or partial."""

from __future__ import annotations

import pytest

from cds_service.clinical.model import DataKind
from cds_service.fhir.prefetch import PrefetchState, PrefetchValue, data_gaps


# present and null (CDS Hooks 2.0: "no data") are obtained; failed (an OperationOutcome) and absent are not
@pytest.mark.parametrize(("state", "unavailable"), [
    (PrefetchState.PRESENT, False), (PrefetchState.NULL, False),
    (PrefetchState.FAILED, True), (PrefetchState.ABSENT, True),
])
@pytest.mark.parametrize("partial", [False, True])
def test_data_gaps_by_prefetch_state(state: PrefetchState, unavailable: bool, partial: bool) -> None:
    values = {
        "patient": PrefetchValue(PrefetchState.ABSENT),  # describes no kind of data: never named
        "vitals": PrefetchValue(state, describes=DataKind.VITALS, partial=partial),
        "labs": PrefetchValue(PrefetchState.PRESENT, describes=DataKind.LABS),
        "conditions": PrefetchValue(PrefetchState.FAILED, describes=DataKind.CONDITIONS),
    }
    missing, in_part = data_gaps(values)
    assert missing == ((DataKind.VITALS,) if unavailable else ()) + (DataKind.CONDITIONS,)
    assert in_part == ((DataKind.VITALS,) if partial else ())
