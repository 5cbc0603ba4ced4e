"""The feedback store: SQLite (WAL, synchronous commits) by default, PostgreSQL when configured; migrated by
Alembic at start; idempotent on (card uuid, outcome, outcomeTimestamp)."""

from __future__ import annotations

import json
import os
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, delete, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, make_url

from cds_service.feedback.model import FeedbackItem
from cds_service.feedback.schema import cards_shown, feedback, jwt_ids, smart_sessions, terminology_answers

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FEEDBACK_BATCH = 200  # items per transaction


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=FULL")  # a committed row survives a crash or power loss
    cursor.execute("PRAGMA busy_timeout=10000")  # several gunicorn workers take turns writing
    cursor.close()


class FeedbackStore:
    """Cards shown and the feedback about them. One store per process; safe across gunicorn's fork."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._pid = -1
        self._lock = threading.Lock()  # a worker's threads share the store

    @classmethod
    def for_settings(cls, database_url: str, data_dir: Path) -> FeedbackStore:
        if database_url:
            return cls(database_url)
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{(data_dir / 'feedback.sqlite3').resolve()}")

    @property
    def description(self) -> str:
        """The store's URL without its password: which database this is, for a person to read."""
        return make_url(self.url).render_as_string(hide_password=True)

    @property
    def engine(self) -> Engine:
        # A pooled connection must not cross a fork: each process makes its own engine.
        if self._engine is None or self._pid != os.getpid():
            with self._lock:
                if self._engine is None or self._pid != os.getpid():
                    if self._engine is not None:
                        self._engine.dispose(close=False)
                    engine = create_engine(self.url, pool_pre_ping=True)
                    if engine.dialect.name == "sqlite":
                        event.listen(engine, "connect", _sqlite_pragmas)
                    self._engine, self._pid = engine, os.getpid()
        return self._engine

    def migrate(self) -> None:
        """Create or upgrade the schema to the newest Alembic revision."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _insert(self, connection: Connection, table: Any) -> Any:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    def record_cards(self, service_id: str, hook_instance: str, cards: Iterable[Mapping[str, Any]],
                     shown_at: datetime) -> None:
        """What was shown: uuid, service, hook instance, finding, severity, indicator, time -- no PHI."""
        self.record_many([(service_id, hook_instance, cards, shown_at)])

    def record_many(self, batches: Iterable[tuple[str, str, Iterable[Mapping[str, Any]], datetime]]) -> None:
        """record_cards for several calls, in one transaction."""
        rows = [{
            "uuid": card["uuid"],
            "service_id": service_id,
            "hook_instance": hook_instance[:100],
            "finding": card["extension"]["neutropenia-cds"]["finding"],
            "severity": card["extension"]["neutropenia-cds"]["severity"],
            "indicator": card["indicator"],
            "shown_at": shown_at,
        } for service_id, hook_instance, cards, shown_at in batches for card in cards]
        if not rows:
            return
        with self.engine.begin() as connection:
            connection.execute(self._insert(connection, cards_shown).on_conflict_do_nothing(), rows)

    def store_feedback(self, service_id: str, items: list[FeedbackItem], received_at: datetime) -> dict[str, int]:
        """Store every item, in committed batches of FEEDBACK_BATCH (a batch is one multi-row insert, so no request
        holds the write lock for long; a repeat is idempotent, so a batch sent again after a failure is safe);
        returns how many were new and how many repeats."""
        stored, unknown = 0, 0
        for start in range(0, len(items), FEEDBACK_BATCH):
            batch = items[start:start + FEEDBACK_BATCH]
            with self.engine.begin() as connection:
                known = set(connection.execute(
                    select(cards_shown.c.uuid).where(cards_shown.c.uuid.in_({i.card for i in batch}))).scalars())
                rows = [{
                    "card_uuid": item.card,
                    "service_id": service_id,
                    "outcome": item.outcome,
                    "outcome_timestamp": item.outcome_timestamp,
                    "accepted_suggestions": json.dumps(list(item.accepted_suggestions)),
                    "override_system": item.override_system,
                    "override_code": item.override_code,
                    "override_display": item.override_display,
                    "has_comment": item.has_comment,
                    "unknown_card": item.card not in known,
                    "received_at": received_at,
                } for item in batch]
                insert = self._insert(connection, feedback).on_conflict_do_nothing().returning(feedback.c.id)
                stored += len(connection.execute(insert, rows).all())  # RETURNING: a row only when it was new
                unknown += sum(1 for i in batch if i.card not in known)
        return {"stored": stored, "duplicates": len(items) - stored, "unknownCards": unknown}

    def terminology_answers(self, system: str, codes: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
        """The remembered answers of the terminology service for these codes: code -> [(ingredient, name)]."""
        codes = set(codes)
        if not codes:
            return {}
        query = select(terminology_answers.c.code, terminology_answers.c.ingredients).where(
            terminology_answers.c.system == system, terminology_answers.c.code.in_(codes))
        with self.engine.connect() as connection:
            return {row.code: [tuple(pair) for pair in json.loads(row.ingredients)]
                    for row in connection.execute(query)}

    def remember_terminology_answer(self, system: str, code: str, ingredients: list[tuple[str, str]],
                                    answered_at: datetime) -> None:
        row = {"system": system, "code": code, "ingredients": json.dumps(ingredients), "answered_at": answered_at}
        with self.engine.begin() as connection:
            connection.execute(self._insert(connection, terminology_answers).on_conflict_do_nothing(), [row])

    def first_use_of_jwt_id(self, key: str, expires_at: datetime, now: datetime) -> bool:
        """True the first time `key` is offered while unexpired, atomically for every process using this database:
        an insert that does nothing on a conflict, else an update that takes only an expired row."""
        with self.engine.begin() as connection:
            inserted = connection.execute(
                self._insert(connection, jwt_ids).on_conflict_do_nothing().returning(jwt_ids.c.key),
                {"key": key, "expires_at": expires_at}).first()
            if inserted is not None:
                return True
            taken = connection.execute(update(jwt_ids).where(jwt_ids.c.key == key, jwt_ids.c.expires_at <= now)
                                       .values(expires_at=expires_at))
            return taken.rowcount == 1

    def forget_expired_jwt_ids(self, now: datetime) -> int:
        with self.engine.begin() as connection:
            return connection.execute(delete(jwt_ids).where(jwt_ids.c.expires_at <= now)).rowcount

    def open_smart_session(self, row: Mapping[str, Any], now: datetime) -> None:
        """A new SMART launch's session (and the expired ones let go)."""
        with self.engine.begin() as connection:
            connection.execute(delete(smart_sessions).where(smart_sessions.c.expires_at <= now))
            connection.execute(smart_sessions.insert(), [dict(row)])

    def smart_session(self, session_id: str, now: datetime) -> dict[str, Any] | None:
        """An unexpired SMART session by its id, else None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(smart_sessions).where(
                smart_sessions.c.id == session_id, smart_sessions.c.expires_at > now)).mappings().first()
        return dict(row) if row is not None else None

    def authorise_smart_session(self, session_id: str, access_token: str, patient: str,
                                expires_at: datetime) -> None:
        """The launch is authorised: the access token and its patient, kept until the token expires."""
        with self.engine.begin() as connection:
            connection.execute(update(smart_sessions).where(smart_sessions.c.id == session_id).values(
                access_token=access_token, patient=patient, expires_at=expires_at, state="", code_verifier=""))

    def close_smart_session(self, session_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(smart_sessions).where(smart_sessions.c.id == session_id))

    def count_feedback(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(feedback)).scalar_one())

    def summary(self, since: datetime | None = None) -> dict[str, Any]:
        """Per finding and indicator: cards shown, accepted, overridden, override rate, top override reasons."""
        shown_query = select(cards_shown.c.uuid, cards_shown.c.finding, cards_shown.c.indicator)
        if since is not None:
            shown_query = shown_query.where(cards_shown.c.shown_at >= since)
        feedback_query = select(feedback.c.card_uuid, feedback.c.outcome, feedback.c.override_code,
                                feedback.c.override_display, feedback.c.unknown_card)
        with self.engine.connect() as connection:
            shown = connection.execute(shown_query).all()
            answers = connection.execute(feedback_query).all()
        group_of = {row.uuid: (row.finding, row.indicator) for row in shown}
        counts: dict[tuple[str, str], dict[str, Any]] = defaultdict(
            lambda: {"shown": 0, "accepted": set(), "overridden": set(), "reasons": Counter()})
        for key in group_of.values():
            counts[key]["shown"] += 1
        unknown = 0
        for answer in answers:
            group = group_of.get(answer.card_uuid)
            if group is None:
                unknown += answer.unknown_card
                continue
            counts[group][answer.outcome].add(answer.card_uuid)
            if answer.outcome == "overridden" and answer.override_code:
                counts[group]["reasons"][(answer.override_code, answer.override_display or "")] += 1
        rows = []
        for (finding, indicator), c in sorted(counts.items()):
            overridden = len(c["overridden"])
            rows.append({
                "finding": finding,
                "indicator": indicator,
                "shown": c["shown"],
                "accepted": len(c["accepted"]),
                "overridden": overridden,
                "overrideRate": round(overridden / c["shown"], 4) if c["shown"] else None,
                "topOverrideReasons": [{"code": code, "display": display, "count": n}
                                       for (code, display), n in c["reasons"].most_common(3)],
            })
        return {
            "since": since.astimezone(UTC).isoformat() if since else None,
            "rows": rows,
            "feedbackForUnknownCards": unknown,
        }
