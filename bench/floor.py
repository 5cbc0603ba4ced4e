"""The floor the service is measured against: a bare Flask route under the same gunicorn settings that parses
the same request body and returns a fixed card of the same size.

    python bench/floor.py --port 9001 --responses DIR   (DIR/<record>.json: the body to answer with)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson
from flask import Flask, Response, request

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cds_service.cli import run_gunicorn


def floor_app(responses: dict[str, bytes]) -> Flask:
    app = Flask("floor")

    @app.post("/cds-services/<service_id>")
    def answer(service_id: str) -> Response:
        orjson.loads(request.get_data())
        return Response(responses[request.args.get("record", "small")], mimetype="application/json")

    @app.get("/healthz")
    def healthz() -> Response:
        return Response(b'{"status":"ok"}', mimetype="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--responses", type=Path, required=True)
    args = parser.parse_args()
    responses = {path.stem: path.read_bytes() for path in args.responses.glob("*.json")}
    run_gunicorn(floor_app(responses), "127.0.0.1", args.port, args.workers)


if __name__ == "__main__":
    main()
