"""R9 evidence 5 through the app: a card says when a drug was recognised through the terminology service (mocked
with `responses`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import responses
from flask.testing import FlaskClient

from cds_service.app import create_app
from cds_service.settings import Settings
from tests.builders import NOW, RXNORM, anc, order_request

BASE = "http://127.0.0.1:9/REST"


def related(*ingredients: tuple[str, str]) -> dict[str, Any]:
    return {"relatedGroup": {"conceptGroup": [
        {"tty": "IN", "conceptProperties": [{"rxcui": c, "name": n, "tty": "IN"} for c, n in ingredients]}]}}


@responses.activate
def test_the_card_says_the_drug_was_recognised_through_the_terminology_service(tmp_path: Path) -> None:
    responses.get(f"{BASE}/rxcui/999006/related.json", json=related(("2626", "clozapine")))
    app = create_app(Settings(data_dir=tmp_path, terminology_url=BASE), clock=lambda: NOW)
    client: FlaskClient = app.test_client()
    draft = {"resourceType": "MedicationRequest", "id": "d1", "status": "draft",
             "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "999006"}]}}
    cards = client.post("/cds-services/neutropenia-order-sign",
                        json=order_request("order-sign", anc(400), drafts=[draft])).get_json()["cards"]
    assert [c["indicator"] for c in cards] == ["critical"]
    assert "Recognised as clozapine through the terminology service" in cards[0]["detail"]
