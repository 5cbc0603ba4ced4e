"""A test CDS client's identity: key pairs, a JWKS server on 127.0.0.1, and JWTs signed as an EHR would."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://ehr.test.example"


@dataclass
class KeyPair:
    kid: str
    algorithm: str
    private: Any
    publish_alg: bool = True  # an issuer may publish a key without `alg`

    @property
    def public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        jwk = {**jwk, "kid": self.kid, "use": "sig"}
        return {**jwk, "alg": self.algorithm} if self.publish_alg else jwk

    @property
    def public_pem(self) -> bytes:
        return bytes(self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def es384(kid: str = "es384-1") -> KeyPair:
    return KeyPair(kid, "ES384", ec.generate_private_key(ec.SECP384R1()))


def rs384(kid: str = "rs384-1") -> KeyPair:
    return KeyPair(kid, "RS384", rsa.generate_private_key(public_exponent=65537, key_size=2048))


@dataclass
class JwksServer:
    """Serves key sets at /<name>.json and counts what was fetched."""

    sets: dict[str, list[KeyPair]] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)
    base: str = ""
    down: bool = False  # answer 503 to everything: the issuer's key server is out
    trickle: bool = False  # send each key set a byte every 50 ms: the issuer's key server is failing slowly

    def url(self, name: str) -> str:
        return f"{self.base}/{name}.json"


def serve_jwks(server: JwksServer) -> Iterator[JwksServer]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.strip("/").removesuffix(".json")
            server.fetched.append(self.path)
            keys = server.sets.get(name)
            if server.down:
                self.send_response(503)
                self.end_headers()
                return
            if keys is None:
                self.send_response(404)
                self.end_headers()
                return
            body = json.dumps({"keys": [k.public_jwk for k in keys]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            step = 1 if server.trickle else len(body)
            try:
                for start in range(0, len(body), step):
                    self.wfile.write(body[start:start + step])
                    self.wfile.flush()
                    if server.trickle:
                        time.sleep(0.05)
            except OSError:
                pass  # the service stopped reading

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


def token(key: KeyPair, audience: str, *, iss: str = ISSUER, lifetime: int = 300, headers: dict[str, Any] | None = None,
          **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": iss, "aud": audience, "iat": now, "exp": now + lifetime, "jti": str(uuid.uuid4()), **claims}
    return jwt.encode(body, key.private, algorithm=key.algorithm, headers={"kid": key.kid, **(headers or {})})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(audience: str, **claims: Any) -> str:
    """alg none."""
    now = int(time.time())
    body = {"iss": ISSUER, "aud": audience, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4()), **claims}
    return f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(body).encode())}."


def hs256_with_public_key(key: KeyPair, audience: str) -> str:
    """The key-confusion attack: HMAC-SHA256 keyed with the issuer's public key."""
    now = int(time.time())
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    body = _b64(json.dumps({"iss": ISSUER, "aud": audience, "iat": now, "exp": now + 300,
                            "jti": str(uuid.uuid4())}).encode())
    signature = hmac.new(key.public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"
