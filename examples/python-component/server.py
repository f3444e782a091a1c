"""A platform component in Python that verifies the IAM console's access tokens with PyJWT.

    ISSUER=https://iam.example JWKS_URL=https://iam.example/.well-known/jwks.json ENVIRONMENT=prod \
    FEATURE=agent_studio python3 server.py

GET /resources/<id> with `Authorization: Bearer <token>` answers 200 when allowed, 401 when the
token is refused, 403 when the user may not use the resource. The checks are those of
@iam-console/runtime: EdDSA or ES256 only, the key by `kid` from the issuer's JWKS (never from the
token), `typ` at+jwt, issuer, expiry, and an audience `<environment>:<feature>` that binds the
token to this environment. Needs python3-jwt and python3-cryptography (Debian), or
`pip install "pyjwt[crypto]"`.
"""

import json
import os
import re
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import jwt

ISSUER = os.environ["ISSUER"]
JWKS_URL = os.environ["JWKS_URL"]
ENVIRONMENT = os.environ["ENVIRONMENT"]
FEATURE = os.environ.get("FEATURE", "agent_studio")
PORT = int(os.environ.get("PORT", "0"))

jwks = jwt.PyJWKClient(JWKS_URL, cache_keys=True)


def verify(token):
    """(claims, None) or (None, reason): the reasons are the console's."""
    if not token:
        return None, "missing_token"
    if len(token) > 8192:
        return None, "token_too_large"
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        return None, "malformed_token"
    if header.get("alg") not in ("EdDSA", "ES256"):
        return None, "algorithm_not_allowed"
    if any(name in header for name in ("jku", "jwk", "x5u", "x5c")):
        return None, "forbidden_header"
    if header.get("typ") != "at+jwt":
        return None, "wrong_type"
    try:
        key = jwks.get_signing_key_from_jwt(token)
    except jwt.PyJWKClientError:
        return None, "unknown_key"
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["EdDSA", "ES256"],
            audience=f"{ENVIRONMENT}:{FEATURE}",
            issuer=ISSUER,
            leeway=30,
            options={"require": ["exp", "iat", "sub", "aud", "jti", "sid"]},
        )
    except jwt.ExpiredSignatureError:
        return None, "expired"
    except jwt.ImmatureSignatureError:
        return None, "not_yet_valid"
    except jwt.InvalidIssuerError:
        return None, "wrong_issuer"
    except jwt.InvalidAudienceError:
        # The signature was verified before the audience: say which check failed.
        unverified = jwt.decode(token, options={"verify_signature": False})
        return None, "wrong_environment" if unverified.get("env") != ENVIRONMENT else "wrong_audience"
    except jwt.InvalidSignatureError:
        return None, "bad_signature"
    except jwt.MissingRequiredClaimError:
        return None, "missing_claim"
    except jwt.PyJWTError:
        return None, "malformed_token"
    if claims.get("env") != ENVIRONMENT:
        return None, "wrong_environment"
    return claims, None


def decide(claims, resource):
    """The offline decision of @iam-console/runtime's decide()."""
    if claims.get("entitlements_overflow") or "entitlements" not in claims:
        return False, "entitlements_overflow"
    granted = claims["entitlements"].get(FEATURE)
    if not granted:
        return False, "no_grant"
    allowed = "*" in granted or resource in granted
    return allowed, "granted" if allowed else "no_grant"


class Handler(BaseHTTPRequestHandler):
    def answer(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        match = re.fullmatch(r"/resources/([^/?]+)", self.path)
        if not match:
            return self.answer(404, {"error": "not_found"})
        resource = unquote(match.group(1))
        auth = self.headers.get("authorization") or ""
        bearer = re.fullmatch(r"Bearer\s+(\S+)\s*", auth, re.IGNORECASE)
        claims, reason = verify(bearer.group(1) if bearer else None)
        if reason:
            return self.answer(401, {"reason": reason}, [("www-authenticate", f'Bearer error="invalid_token", error_description="{reason}"')])
        allow, reason = decide(claims, resource)
        if not allow:
            return self.answer(403, {"reason": reason})
        return self.answer(200, {"allow": True, "user": claims.get("email"), "resource": resource, "reason": reason})

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)
