"""Shared fixtures: the knowledge files, the app with a fixed clock, and an assess() shortcut."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cds_service.app import create_app
from cds_service.clinical.assessment import assess
from cds_service.clinical.model import Assessment
from cds_service.fhir.records import build_record
from cds_service.knowledge import Knowledge, load_knowledge
from cds_service.settings import Settings
from tests.builders import NOW, PATIENT_ID, patient


@pytest.fixture(scope="session", autouse=True)
def working_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Run in a scratch folder: the default feedback store (var/) and anything else relative lands there."""
    previous = Path.cwd()
    scratch = tmp_path_factory.mktemp("work")
    os.chdir(scratch)
    try:
        yield scratch
    finally:
        os.chdir(previous)


@pytest.fixture(scope="session")
def knowledge() -> Knowledge:
    return load_knowledge()


@pytest.fixture(scope="session")
def app() -> Flask:
    return create_app(Settings(), clock=lambda: NOW)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


AssessFn = Callable[..., Assessment]


@pytest.fixture
def assess_record(knowledge: Knowledge) -> AssessFn:
    """assess_record(*resources, birth_date=..., now=...) -> Assessment, through the real FHIR boundary."""

    def run(*resources: dict[str, Any], birth_date: str | None = "1980-05-01", now: datetime = NOW,
            patient_resource: dict[str, Any] | None = None) -> Assessment:
        record = build_record(PATIENT_ID, patient_resource or patient(birth_date), list(resources), knowledge)
        return assess(record, now, knowledge)

    return run
