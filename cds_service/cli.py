"""The neutropenia-cds command: serve | evaluate | check-cards | feedback-report."""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import logging
import os
import shutil
import socket
import struct
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from cds_service.knowledge import KnowledgeError
from cds_service.render.cards import CardTemplateError
from cds_service.settings import Settings, SettingsError


def tune_gc() -> None:
    """Everything loaded at start lives as long as the process: keep the collector off it (and off the pages the
    workers share with the master), and collect a request's many short-lived FHIR objects less eagerly."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
LARGE_BLOCK_BYTES = 128 * 1024  # glibc's own default threshold


def tune_malloc() -> bool:
    """Give a request body's large buffers back to the system when the call ends. glibc maps blocks above a
    threshold of their own and unmaps them on free, but raises that threshold to the size of each such block freed:
    after the first large record, every later body of that size lands in the heap, which keeps its peak for as long
    as the worker lives (tens of MB per worker under load). Setting the threshold fixes it at its default. Inherited
    by gunicorn's forked workers; False where the C library is not glibc (nothing to do)."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    return bool(mallopt is not None and mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES))


SILENT_CLIENT_SECONDS = 10  # a client that sends nothing for this long in the middle of a request is let go


class _SilentClientFilter(logging.Filter):
    """gunicorn logs a read that timed out in a request's headers as an unexpected socket error, with a traceback:
    here it is expected (a silent client let go), so it is one line at WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, BlockingIOError):
            record.msg, record.args, record.exc_info, record.exc_text = (
                "a client sent nothing for %d s in the middle of a request: connection closed",
                (SILENT_CLIENT_SECONDS,), None, None)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def _time_out_silent_clients(server: Any) -> None:
    """A request's reads block in a worker thread. A peer that stops sending in the middle of one -- a connection
    that died without a word, or a client holding threads on purpose -- would hold its thread for ever: every
    connection's reads time out after SILENT_CLIENT_SECONDS without data (SO_RCVTIMEO, set on the listening socket,
    which the accepted ones inherit)."""
    timeout = struct.pack("ll", SILENT_CLIENT_SECONDS, 0)
    for listener in server.LISTENERS:
        listener.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeout)
    logging.getLogger("gunicorn.error").addFilter(_SilentClientFilter())


def run_gunicorn(app: Any, host: str, port: int, workers: int, threads: int = 8) -> None:
    """Serve a WSGI app the way `neutropenia-cds serve` does: gunicorn's threaded workers, in which a slow or idle
    connection holds no worker (it waits in the worker's poller; a thread takes it only once data has come, and gives
    it back when none comes for a while), so two clients trickling their headers, or two calls waiting on a slow FHIR
    server, leave every other call its threads. Access log on stdout; no control socket (it would be one file per
    user, shared by every instance)."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("keepalive", 5)  # seconds an idle kept-alive connection waits in the poller
            self.cfg.set("control_socket_disable", True)
            self.cfg.set("accesslog", "-")
            self.cfg.set("timeout", 30)
            self.cfg.set("when_ready", _time_out_silent_clients)

        def load(self) -> Any:
            return app

    Server().run()


def metrics_directory(data_dir: Path) -> Path:
    """Where every gunicorn worker writes its metrics (prometheus_client's multiprocess mode): a fresh folder for
    this instance, named before prometheus_client is first imported in this process."""
    if "prometheus_client" in sys.modules:
        raise RuntimeError("prometheus_client was imported before its multiprocess folder was set")
    directory = data_dir.resolve() / f"metrics-{os.getpid()}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return directory


def _serve(args: argparse.Namespace) -> int:
    settings = Settings.load(args.config, host=args.host, port=args.port, workers=args.workers)
    metrics = metrics_directory(settings.data_dir)

    from cds_service.app import create_app  # (after the metrics folder is set: it imports prometheus_client)
    from cds_service.observability import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)  # load and check everything before gunicorn forks its workers
    tune_gc()
    tune_malloc()
    print(f"neutropenia-cds {settings.profile} profile on http://{settings.host}:{settings.port}/cds-services",
          file=sys.stderr)
    try:
        run_gunicorn(app, settings.host, settings.port, settings.workers, settings.threads)
    finally:
        shutil.rmtree(metrics, ignore_errors=True)
    return 0


def _write_review(args: argparse.Namespace, document: Any, assessment: Any, deps: Any) -> int:
    """--html: the review page (cards as an EHR shows them, the ANC trend chart) for this one file."""
    from cds_service.review import Reviewed, Scenario, review, review_page
    from cds_service.services import declare_services

    name = Path(args.file).name
    if isinstance(document, dict) and "hookInstance" in document:
        scenario = Scenario(str(document.get("hook")), name, f"The hook request in {name}.", deps.clock(), document)
        reviewed = review(scenario, declare_services(deps.knowledge), deps)
    else:
        cards = deps.renderer.cards(assessment, deps.base_url)
        reviewed = Reviewed(name, "FHIR Bundle", f"The record in {name}, as a chart opening would show it.",
                            deps.clock(), cards, assessment)
    try:
        Path(args.html).parent.mkdir(parents=True, exist_ok=True)
        Path(args.html).write_text(review_page(f"Review of {name}", [reviewed], deps), encoding="utf-8")
    except OSError as exc:
        print(f"cannot write {args.html}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.html}: {len(reviewed.cards)} card(s){' -- ' + reviewed.error if reviewed.error else ''}")
    return 0


def _assess_file(document: Any, deps: Any) -> Any:
    """The Assessment of a hook request (its prefetch) or of a FHIR Bundle holding one Patient."""
    from cds_service.clinical.assessment import assess
    from cds_service.fhir.bundle import bundle_entries
    from cds_service.fhir.hook_request import parse_hook_request
    from cds_service.fhir.records import build_record
    from cds_service.services import assess_patient, declare_services, patient_data

    if isinstance(document, dict) and "hookInstance" in document:
        services = [s for s in declare_services(deps.knowledge).values() if s.hook == document.get("hook")]
        if not services:
            raise ValueError(f"no service answers the hook {document.get('hook')!r}")
        request = parse_hook_request(document, services[0].hook, ("patientId",))
        return assess_patient(request, patient_data(request, services[0], deps), deps)
    if isinstance(document, dict) and document.get("resourceType") == "Bundle":
        resources = [e["resource"] for e in bundle_entries(document)
                     if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
        patients = [r for r in resources if r.get("resourceType") == "Patient"]
        if len(patients) != 1 or not isinstance(patients[0].get("id"), str):
            raise ValueError("the Bundle must hold exactly one Patient, with an id")
        others = [r for r in resources if r is not patients[0]]
        record = build_record(patients[0]["id"], patients[0], others, deps.knowledge)
        return assess(record, deps.clock(), deps.knowledge)
    raise ValueError("the file must hold a CDS Hooks request or a FHIR Bundle")


def _invalid_resources(document: Any) -> list[str]:
    """--strict: every resource of a hook request (prefetch, draft orders) or a Bundle validated as full FHIR R4
    with fhir.resources; one line per invalid one (its type, id and the first element at fault)."""
    from fhir.resources.R4B import get_fhir_model_class
    from pydantic import ValidationError

    resources: list[Any] = []
    if isinstance(document, dict) and document.get("resourceType") == "Bundle":
        resources = [e.get("resource") for e in document.get("entry") or [] if isinstance(e, dict)]
    elif isinstance(document, dict):
        for value in (document.get("prefetch") or {}).values():
            if isinstance(value, dict) and value.get("resourceType") == "Bundle":
                resources += [e.get("resource") for e in value.get("entry") or [] if isinstance(e, dict)]
            elif isinstance(value, dict):
                resources.append(value)
        drafts = (document.get("context") or {}).get("draftOrders") or {}
        resources += [e.get("resource") for e in drafts.get("entry") or [] if isinstance(e, dict)]
    problems = []
    for resource in resources:
        if not isinstance(resource, dict):
            problems.append("an entry that is no resource")
            continue
        name = f"{resource.get('resourceType')}/{resource.get('id')}"
        try:
            get_fhir_model_class(str(resource.get("resourceType"))).model_validate(resource)
        except KeyError:
            problems.append(f"{name}: no such resource type")
        except ValidationError as exc:
            first = exc.errors()[0]
            problems.append(f"{name}: {'.'.join(str(p) for p in first.get('loc', ()))}: {first['msg']}")
    return problems


def _evaluate(args: argparse.Namespace) -> int:
    from cds_service.app import site_knowledge
    from cds_service.errors import ServiceError
    from cds_service.render.cards import CardRenderer, load_templates
    from cds_service.render.plain import to_plain
    from cds_service.render.samples import FINDINGS_RENDERED
    from cds_service.services import ServiceDependencies

    settings = Settings.load(args.config)
    try:
        now = datetime.fromisoformat(args.at) if args.at is not None else (settings.fixed_now or datetime.now(UTC))
    except ValueError:
        print(f"--at must be an ISO 8601 date-time with a time zone, e.g. 2026-11-25T12:00:00Z, not {args.at!r}",
              file=sys.stderr)
        return 2
    if now.tzinfo is None:
        print("--at needs a time zone, e.g. 2026-11-25T12:00:00Z", file=sys.stderr)
        return 2
    knowledge = site_knowledge(settings)
    renderer = CardRenderer(load_templates(settings.cards_dir, FINDINGS_RENDERED), knowledge)
    deps = ServiceDependencies(knowledge=knowledge, renderer=renderer, clock=lambda: now,
                               base_url=settings.public_base_url or f"http://{settings.host}:{settings.port}")
    try:
        document = orjson.loads(Path(args.file).read_bytes())
    except OSError as exc:
        print(f"cannot evaluate {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except orjson.JSONDecodeError as exc:  # (UTF-8 errors too: as the HTTP answer says it)
        print(f"cannot evaluate {args.file}: the file is not valid JSON: {exc}", file=sys.stderr)
        return 2
    if args.strict:
        invalid = _invalid_resources(document)
        for line in invalid:
            print(f"not valid FHIR R4: {line}", file=sys.stderr)
        if invalid:
            return 2
    try:
        assessment = _assess_file(document, deps)
    except (ValueError, ServiceError) as exc:
        print(f"cannot evaluate {args.file}: {exc}", file=sys.stderr)
        return 2
    if args.html is not None:
        return _write_review(args, document, assessment, deps)
    cards = renderer.cards(assessment, deps.base_url)
    if args.json:
        sys.stdout.write(orjson.dumps({"assessment": to_plain(assessment), "cards": cards},
                                      option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print(f"Assessed at {now.isoformat()}: finding {assessment.finding or 'none (no card)'}")
    headline = assessment.headline
    if headline is not None:
        anc = headline.anc
        print(f"  ANC {anc.comparator or ''}{anc.value}/uL ({anc.source}), collected "
              f"{anc.collected_at.isoformat() if anc.collected_at else 'at an unknown time'}")
        print(f"  severity {headline.severity}{' (profound)' if headline.profound else ''}, "
              f"LLN {headline.limit.lln}/uL ({headline.limit.basis}), CTCAE grade {headline.ctcae_grade}")
    if assessment.trend:
        points = ", ".join(f"{p.anc.value}" for p in assessment.trend.points)
        print(f"  trend {assessment.trend.direction}: {points}")
    if assessment.fever:
        top = assessment.fever.highest
        shown = f"{top.comparator or ''}{top.celsius:.1f} C"
        print(f"  fever ({assessment.fever.rule}): {shown} {top.route} at {top.at.isoformat()}")
    context = assessment.context
    if context is not None:
        if context.chemotherapy:
            dose = context.chemotherapy
            course = ", ongoing" if dose.ongoing else (
                f", last given {dose.last_days_before} days ago" if dose.last_at is not None else "")
            since = f"{dose.days_before} days ago" if dose.start_recorded else "from a start no record gives"
            print(f"  chemotherapy: {dose.agent}, {since}{course}{' (3-14 day window)' if dose.in_window else ''}")
        if context.active_antineoplastic:
            print(f"  antineoplastic still active: {context.active_antineoplastic}")
        if context.clozapine_active:
            print(f"  clozapine active: {assessment.clozapine_action}")
        print(f"  Duffy-null status: {context.duffy}")
        if context.causes:
            print(f"  found in the record: {', '.join(context.causes)}")
        if context.unavailable:
            print(f"  not available: {', '.join(context.unavailable)}")
    for problem in assessment.data_problems:
        print(f"  data problem: {problem.problem} ({problem.role}, LOINC {problem.loinc or '?'})")
    for card in cards:
        print(f"\n[{card['indicator']}] {card['summary']}\n{card['detail']}")
    return 0


def _check_cards(args: argparse.Namespace) -> int:
    from cds_service.knowledge import load_knowledge
    from cds_service.render.cards import CardRenderer, CardTemplateError, load_templates
    from cds_service.render.samples import FINDINGS_RENDERED, template_problems

    cards_dir = Path(args.cards_dir) if args.cards_dir else Settings.load(args.config).cards_dir
    try:
        templates = load_templates(cards_dir, FINDINGS_RENDERED)
    except CardTemplateError as exc:
        print(f"FAIL {exc}", file=sys.stderr)
        return 1
    problems = template_problems(CardRenderer(templates, load_knowledge()))
    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    if not problems:
        print(f"ok: {len(templates)} card templates in {cards_dir} render every sample cleanly")
    return 1 if problems else 0


def _feedback_report(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from cds_service.feedback.model import since_moment
    from cds_service.feedback.store import FeedbackStore

    settings = Settings.load(args.config)
    try:
        since = since_moment(args.since) if args.since else None
    except ValueError:
        print(f"--since must be an ISO 8601 date, not {args.since!r}", file=sys.stderr)
        return 2
    store = FeedbackStore.for_settings(settings.database_url, settings.data_dir)
    print(f"feedback store: {store.description}", file=sys.stderr)  # which store was read (never a password)
    store.migrate()
    report = store.summary(since)
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    table = Table(title=f"CDS card feedback{' since ' + args.since if args.since else ''}")
    for column in ("Finding", "Indicator", "Shown", "Accepted", "Overridden", "Override rate", "Top override reasons"):
        table.add_column(column, justify="right" if column in ("Shown", "Accepted", "Overridden",
                                                               "Override rate") else "left")
    for row in report["rows"]:
        rate = "-" if row["overrideRate"] is None else f"{row['overrideRate']:.1%}"  # (2 of 400: 0.5%, not 0%)
        reasons = "; ".join(f"{r['display'] or r['code']} ({r['count']})" for r in row["topOverrideReasons"])
        table.add_row(row["finding"], row["indicator"], str(row["shown"]), str(row["accepted"]),
                      str(row["overridden"]), rate, reasons or "-")
    console = Console(width=None if sys.stdout.isatty() else 160)  # piped: wide enough not to wrap the reasons
    console.print(table)
    if report["feedbackForUnknownCards"]:
        console.print(f"Feedback about cards this store never recorded: {report['feedbackForUnknownCards']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neutropenia-cds", description=__doc__)
    parser.add_argument("--config", help="a TOML settings file (default: $NEUTROPENIA_CDS_CONFIG, if set)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the CDS Hooks service under gunicorn")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default 8080)")
    serve.add_argument("--workers", type=int, help="gunicorn worker processes (default 2)")
    serve.set_defaults(run=_serve)
    evaluate = commands.add_parser("evaluate", help="assess a FHIR Bundle or a hook request file")
    evaluate.add_argument("file", help="a JSON file: a FHIR Bundle with one Patient, or a CDS Hooks request")
    evaluate.add_argument("--at", help="assess as of this ISO 8601 time (default: now)")
    evaluate.add_argument("--json", action="store_true", help="print the assessment and cards as JSON")
    evaluate.add_argument("--html", metavar="OUT.html",
                          help="write the review page: the cards as an EHR shows them, beside the ANC trend chart")
    evaluate.add_argument("--strict", action="store_true",
                          help="first validate every resource as full FHIR R4 (fhir.resources); exit 2 if any is not")
    evaluate.set_defaults(run=_evaluate)
    check = commands.add_parser("check-cards", help="check the card templates render every sample cleanly")
    check.add_argument("--cards-dir", help="the templates folder (default: the configured one)")
    check.set_defaults(run=_check_cards)
    report = commands.add_parser("feedback-report", help="cards shown, accepted, overridden, override reasons")
    report.add_argument("--since", help="only cards shown from this ISO 8601 date on")
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    report.set_defaults(run=_feedback_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.run(args)
    except (SettingsError, KnowledgeError, CardTemplateError) as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
