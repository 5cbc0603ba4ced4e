"""What the service does without: CDS Hooks 2.0 prefetch states, read into the kinds of data missing or partial."""

from __future__ import annotations

import pytest

from cds_service.clinical.model import DataKind
from cds_service.fhir.client import without_conveniences
from cds_service.fhir.prefetch import PrefetchState, PrefetchValue, as_patient_data, data_gaps


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


def test_patient_data_is_the_patient_and_every_other_key_in_declared_order() -> None:
    patient = {"resourceType": "Patient", "id": "p1"}
    labs = ({"resourceType": "Observation", "id": "l1"}, {"resourceType": "Observation", "id": "l2"})
    vitals = ({"resourceType": "Observation", "id": "v1"},)
    data = as_patient_data({
        "patient": PrefetchValue(PrefetchState.PRESENT, (patient,)),
        "labs": PrefetchValue(PrefetchState.PRESENT, labs, DataKind.LABS, partial=True),
        "conditions": PrefetchValue(PrefetchState.FAILED, describes=DataKind.CONDITIONS),
        "vitals": PrefetchValue(PrefetchState.PRESENT, vitals, DataKind.VITALS),
    })
    assert data.patient is patient
    assert [r["id"] for r in data.resources] == ["l1", "l2", "v1"]  # type: ignore[index]
    assert data.unavailable == (DataKind.CONDITIONS,)
    assert data.partial == (DataKind.LABS,)


def test_patient_data_without_a_patient_resource() -> None:
    data = as_patient_data({"patient": PrefetchValue(PrefetchState.NULL)})
    assert data.patient is None
    assert list(data.resources) == []


@pytest.mark.parametrize(("query", "plain"), [
    ("MedicationRequest?patient=p&_include=MedicationRequest:medication&_sort=-authoredon&_count=200",
     "MedicationRequest?patient=p&_count=200"),
    ("Observation?patient=p&code=http://loinc.org|751-8&_sort=-date&_count=500",
     "Observation?patient=p&code=http://loinc.org|751-8&_count=500"),
    ("Condition?patient=p&_count=200", "Condition?patient=p&_count=200"),  # nothing to leave out: not asked again
    ("Patient/p", "Patient/p"),  # a read
    ("Procedure?_sort=-date", "Procedure"),
])
def test_a_refused_search_is_asked_again_without_what_only_orders_or_adds(query: str, plain: str) -> None:
    """What filters a search (patient, code, date, _count) stays; _sort and _include, which only order the answer or
    add the Medications it names, go."""
    assert without_conveniences(query) == plain
