"""More than one machine, as the README deploys it: three `neutropenia-cds serve` replicas behind Debian's nginx on
127.0.0.1, sharing one PostgreSQL (feedback and JWT ids) and one Redis. A token used on one replica is refused by
another, feedback answered 200 survives a replica killed in the middle of a burst, and every replica answers the
same cards."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from cds_service.feedback.schema import feedback
from cds_service.feedback.store import FeedbackStore
from tests.feedback_data import post_override
from tests.integration.conftest import FIXTURES, free_port, running_service, stop
from tests.jwt_issuer import ISSUER, JwksServer, es384, serve_jwks, token

pytestmark = pytest.mark.integration
KEY = es384()
STARTUP_SECONDS = 30

NGINX_CONF = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 10m;
    upstream cds {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://cds;
            proxy_set_header Host $http_host;
            proxy_set_header X-Request-Id $request_id;
            proxy_next_upstream error timeout;  # never a POST again on another replica: the client decides
        }}
    }}
}}
"""


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found is None:
        pytest.fail("nginx is not installed: `make test` installs the Debian package nginx-light")
    return found


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    yield from serve_jwks(JwksServer(sets={"main": [KEY]}))


@pytest.fixture
def deployment(postgres_url: str, redis_proc: Any, jwks: JwksServer, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """nginx on a free port in front of three replicas; yields the URLs and each replica's master pid."""
    store = FeedbackStore(postgres_url)
    store.migrate()
    with store.engine.begin() as connection:
        connection.exec_driver_sql("TRUNCATE feedback, cards_shown, jwt_ids")
    store.close()
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    env = {
        "NEUTROPENIA_CDS_DATABASE_URL": postgres_url,
        "NEUTROPENIA_CDS_REPLAY_CACHE_URL": f"redis://{redis_proc.host}:{redis_proc.port}/0",
        "NEUTROPENIA_CDS_TRUSTED_ISSUERS": json.dumps([{"iss": ISSUER, "jwks_url": jwks.url("main")}]),
        "NEUTROPENIA_CDS_PUBLIC_BASE_URL": public,
    }
    with ExitStack() as stack:
        replicas = [stack.enter_context(running_service({**env, "NEUTROPENIA_CDS_DATA_DIR": str(tmp_path / f"r{i}")},
                                                        workers=2)) for i in range(3)]
        servers = "\n".join(f"        server {url.removeprefix('http://')} max_fails=1 fail_timeout=2s;"
                            for url, _ in replicas)
        prefix = tmp_path / "nginx"
        prefix.mkdir()
        (prefix / "nginx.conf").write_text(NGINX_CONF.format(prefix=prefix, servers=servers, port=port))
        user = ["-g", "daemon off; user root;"] if os.geteuid() == 0 else ["-g", "daemon off;"]
        process = subprocess.Popen([_nginx(), "-p", str(prefix), "-c", str(prefix / "nginx.conf"), *user],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                try:
                    if requests.get(f"{public}/healthz", timeout=1).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"nginx did not start: {(process.stderr.read() if process.stderr else b'').decode()}")
                time.sleep(0.1)
            yield {"public": public, "replicas": [url for url, _ in replicas],
                   "masters": [pid for _, pid in replicas], "database": postgres_url}
        finally:
            stop(process)


def test_every_replica_answers_the_same_cards(deployment: dict[str, Any]) -> None:
    request = json.loads((FIXTURES / "patient-view" / "febrile-neutropenia-chemotherapy.request.json").read_text())
    answers = []
    for url in [*deployment["replicas"], *[deployment["public"]] * 3]:
        cards = requests.post(f"{url}/cds-services/neutropenia-patient-view", json=request, timeout=10).json()["cards"]
        answers.append([(c["summary"], c["indicator"], c["detail"], c["extension"]) for c in cards])
    assert answers[0] and all(answer == answers[0] for answer in answers)


def test_a_token_used_on_one_replica_is_refused_on_another(deployment: dict[str, Any]) -> None:
    first, second, _ = deployment["replicas"]
    audience = f"{deployment['public']}/cds-services"  # each replica checks aud against the public URL
    once = {"Authorization": f"Bearer {token(KEY, audience)}"}
    assert requests.get(f"{first}/cds-services", headers=once, timeout=5).status_code == 200
    assert requests.get(f"{second}/cds-services", headers=once, timeout=5).status_code == 401
    fresh = {"Authorization": f"Bearer {token(KEY, audience)}"}
    statuses = [requests.get(f"{deployment['public']}/cds-services", headers=fresh, timeout=5).status_code
                for _ in range(6)]  # the same token through the load balancer, to whichever replica
    assert statuses.count(200) == 1 and statuses.count(401) == 5




def test_feedback_answered_200_survives_a_replica_killed_mid_burst(deployment: dict[str, Any]) -> None:
    cards = [str(uuid.uuid4()) for _ in range(300)]
    results: dict[str, int] = {}

    def post(index_card: tuple[int, str]) -> None:
        index, card = index_card
        if index == 100:
            os.killpg(deployment["masters"][0], signal.SIGKILL)  # a whole replica gone, master and workers
        results[card] = post_override(deployment["public"], card)

    with ThreadPoolExecutor(12) as pool:
        list(pool.map(post, enumerate(cards)))
    answered = [card for card, status in results.items() if status == 200]
    unanswered = [card for card, status in results.items() if status != 200]
    assert len(answered) >= len(cards) - 24  # only what was in flight on the killed replica may go unanswered
    retried = [post_override(deployment["public"], card) for card in unanswered]  # the EHR sends again: idempotent
    assert all(status == 200 for status in retried)
    store = FeedbackStore(deployment["database"])
    with store.engine.connect() as connection:
        rows = dict(connection.execute(select(feedback.c.card_uuid, func.count()).group_by(feedback.c.card_uuid)).all())
    store.close()
    assert rows == dict.fromkeys(cards, 1)  # every item once: nothing answered 200 was lost, nothing doubled
