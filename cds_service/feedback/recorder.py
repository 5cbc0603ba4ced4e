"""Records of cards shown, written off the request path: a worker queues them and a background thread writes
them in batches, so a CDS call does not wait on the database. The feedback itself is never written this way --
it is committed before its 200."""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from cds_service.feedback.store import FeedbackStore

log = logging.getLogger(__name__)

_STOP = object()


class CardRecorder:
    """Queues (service, hook instance, cards, time); one writer thread per process flushes every `interval`
    seconds or `batch` cards. A worker that exits normally flushes what is queued; one killed with SIGKILL loses
    at most `interval` of card records -- feedback about those cards is then stored as about an unknown card."""

    def __init__(self, store: FeedbackStore, interval: float = 0.2, batch: int = 500, max_queued: int = 50_000):
        self.store = store
        self.interval = interval
        self.batch = batch
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queued)
        self._thread: threading.Thread | None = None
        self._pid = -1
        self._lock = threading.Lock()

    def record(self, service_id: str, hook_instance: str, cards: Sequence[Mapping[str, Any]],
               shown_at: datetime) -> None:
        self._ensure_thread()
        try:
            self._queue.put_nowait((service_id, hook_instance, cards, shown_at))
        except queue.Full:
            log.error("card record queue full: %d card(s) of %s not recorded", len(cards), service_id)

    def flush(self, timeout: float = 5.0) -> None:
        """Write everything queued so far (tests, and worker exit)."""
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            done = threading.Event()
            self._queue.put(done)
            done.wait(timeout)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:  # after a fork the parent's thread does not exist here: start this process's own
            if self._thread is None or self._pid != os.getpid():
                self._queue = queue.Queue(maxsize=self._queue.maxsize)
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="card-recorder", daemon=True)
                self._thread.start()
                atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            item = self._queue.get()  # wait for the first record of a batch
            pending: list[Any] = []
            events: list[threading.Event] = []
            deadline = time.monotonic() + self.interval
            while True:
                if isinstance(item, threading.Event):
                    events.append(item)  # a flush: write what is here now
                elif item is not _STOP:
                    pending.append(item)
                if events or len(pending) >= self.batch:
                    break
                # Gather until the interval is over: a busy worker queues a record on every call, and writing each
                # as it comes would cost a transaction (and a disk sync) per call.
                remaining = deadline - time.monotonic()
                try:
                    item = self._queue.get(timeout=remaining) if remaining > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
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
