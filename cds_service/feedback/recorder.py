"""Records of cards shown, written off the request path: a worker queues them and a background thread writes
them in batches, so a CDS call does not wait on the database. The feedback itself is never written this way --
it is committed before its 200."""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from cds_service.feedback.store import FeedbackStore

log = logging.getLogger(__name__)

class CardRecorder:
    """Queues (service, hook instance, cards, time); one writer thread per process wakes every `interval` seconds
    (sooner for a flush or a full batch) and writes what is queued in one transaction. A call only appends to a
    deque: it never wakes the writer, which would cost a thread switch per call. A worker that exits normally
    flushes what is queued; one killed with SIGKILL loses at most `interval` of card records -- feedback about
    those cards is then stored as about an unknown card."""

    def __init__(self, store: FeedbackStore, interval: float = 0.2, batch: int = 500, max_queued: int = 50_000):
        self.store = store
        self.interval = interval
        self.batch = batch
        self.max_queued = max_queued
        self._queued: deque[Any] = deque()  # appends and pops are atomic: no lock on the request path
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = -1
        self._lock = threading.Lock()

    def record(self, service_id: str, hook_instance: str, cards: Sequence[Mapping[str, Any]],
               shown_at: datetime) -> None:
        self._ensure_thread()
        queued = len(self._queued)
        if queued >= self.max_queued:
            log.error("card record queue full: %d card(s) of %s not recorded", len(cards), service_id)
            return
        self._queued.append((service_id, hook_instance, cards, shown_at))
        if queued + 1 == self.batch:
            self._wake.set()  # a full batch: written now rather than at the end of the interval

    def flush(self, timeout: float = 5.0) -> None:
        """Write everything queued so far (tests, feedback, and worker exit)."""
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            done = threading.Event()
            self._queued.append(done)
            self._wake.set()
            done.wait(timeout)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:  # after a fork the parent's thread does not exist here: start this process's own
            if self._thread is None or self._pid != os.getpid():
                self._queued = deque()
                self._wake = threading.Event()
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="card-recorder", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            pending: list[Any] = []
            events: list[threading.Event] = []
            while self._queued:
                item = self._queued.popleft()
                if isinstance(item, threading.Event):
                    events.append(item)
                else:
                    pending.append(item)
                if len(pending) >= self.batch:
                    self._write(pending)
                    pending = []
            self._write(pending)
            for event in events:
                event.set()

    def _write(self, pending: list[Any]) -> None:
        if not pending:
            return
        try:
            self.store.record_many(pending)
        except SQLAlchemyError:
            log.exception("%d card record batch(es) could not be written", len(pending))
