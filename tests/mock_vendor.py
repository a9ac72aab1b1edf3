#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""mock_vendor.py - one local HTTPS server playing every pam_bearer preset.

    mock_vendor.py --cert CERT --key KEY --port-file FILE [--log FILE]
                   [--max-seconds 600] [--plain] [--control-port-file FILE]

Binds 127.0.0.1 on a free port, writes the port to --port-file once it
listens, and serves HTTPS (plain HTTP with --plain). It exits on its own
after --max-seconds, or as soon as the process that started it is gone, so a
killed test never leaves it behind. Python 3 standard library only.

Vendor routes (POST, relative to the base URL) follow the contracts the
presets in vendors/*.conf describe, each with its source: api.video (and its
sandbox, under /sandbox, which takes only the sandbox key), UNITH, Rythmex
(JWT and API token), Haut.AI login, a generic OAuth 2.0 token endpoint
(which also takes private_key_jwt client assertions), a GitHub App's
installation token (/app/installations/67890/access_tokens, app 12345) and
a Google service account's token endpoint (/google/token).
Signed assertions are verified with the public key set by /_mock/config
"assertion_public_key" (python3-cryptography); each refusal says which
check failed. GET /v1/whoami is a
protected resource that accepts any currently valid issued access token.

Control (not counted in the stats):
  POST /_mock/config          merge settings (see DEFAULT_CONFIG; plus
                              "expires_in": raw JSON value to send instead)
  POST /_mock/fault           {"path": P|"*", "mode": M, "count": N,
                               "retry_after": S, "delay": S}; mode "none"
                              clears the fault on P; for 429,
                              "headers": [names] picks which of
                              Retry-After, X-RateLimit-Retry-After go out
                              (default both)
  POST /_mock/reset           clear faults, config and all issued tokens
  POST /_mock/revoke-refresh  invalidate every refresh token
  GET  /_mock/stats           {"requests": [...], "counts": {path: n},
                               "latest_refresh": {vendor: token}}
  GET  /_mock/count[?path=P], /_mock/last?path=P&field=F,
       /_mock/last-refresh?vendor=V   one plain-text value each
With --control-port-file, /_mock/* is also served over plain HTTP on a
second port (no TLS handshake per query: the shell tests ask a lot).
Fault modes: slow hang 500 503 429 malformed html oversize missing-field
wrong-type expired-jwt ctrl-token space-token bad-creds redirect not-found
401 403 (see fault_before/fault_after), and three general ones for the
bad-input table (tests/integration/badinput.sh):
  raw       {"status": S, "body": TEXT | "body_b64": B64, "ctype": C,
             "headers": {name: value}}: exactly that answer
  token     the vendor's good answer with its access token replaced by
            "value" (any JSON value), "drop": [members to remove],
            "set": {members to add or replace}
  jwt       as token, the value being a JWT signed like the real ones with
            "claims" (a JSON object) as its payload; expires_in is dropped
  truncate  the vendor's good answer cut in half, its Content-Length
            still claiming the whole body, then the connection is closed
Secrets sent by the client are never recorded; refresh tokens are (tests
compare them with what the client stored).
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import select
import socket
import signal
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEFAULT_CONFIG = {
    "lifetime": 3600,            # seconds every access token lives
    "unith_shape": "data.bearer",  # or "token"
    "rythmex_rotate": False,     # jwt/refresh/ also returns a new refresh
    "oauth2_refresh": False,     # /oauth/token also returns a refresh_token
    "assertion_public_key": None,  # PEM: verifies signed client assertions
}
USER, SIGNING_KEY = "user@example.com", b"mock-vendor-signing-key"


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def check_assertion(st, jwt, iss, aud):
    """A signed client assertion (RFC 7523) as a vendor checks it: the
    signature with the registered public key (RS256 or ES256), iss (and sub
    when given), aud when given, exp in the future and exp - iat at most
    10 minutes, a jti not seen before. None, or which check failed.
    python3-cryptography does the signature (imported only when asked)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
    try:
        h64, p64, s64 = jwt.split(".")
        header, claims = json.loads(b64url_decode(h64)), json.loads(b64url_decode(p64))
        sig = b64url_decode(s64)
    except ValueError:
        return "not a JWT"
    pem = st.config.get("assertion_public_key")
    if not pem:
        return "no public key registered"
    key = serialization.load_pem_public_key(pem.encode())
    data = (h64 + "." + p64).encode()
    try:
        if header.get("alg") == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
        elif header.get("alg") == "ES256" and isinstance(key, ec.EllipticCurvePublicKey) \
                and len(sig) == 64:
            der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                             int.from_bytes(sig[32:], "big"))
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
        else:
            return "alg %s does not fit the key" % header.get("alg")
    except InvalidSignature:
        return "signature does not verify"
    now = time.time()
    if str(claims.get("iss")) != iss or claims.get("sub", iss) != iss:
        return "iss/sub is %s, not %s" % (claims.get("iss"), iss)
    if aud is not None and claims.get("aud") != aud:
        return "aud is %s, not %s" % (claims.get("aud"), aud)
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int) or not isinstance(iat, int) or exp <= now or iat > now + 60:
        return "expired or not yet valid (iat %s, exp %s)" % (iat, exp)
    if exp - iat > 600:
        return "exp - iat is %d s, over 10 minutes" % (exp - iat)
    if "jti" in claims:
        if claims["jti"] in st.jtis:
            return "jti replayed"
        st.jtis.add(claims["jti"])
    st.assertions.append({"header": header, "claims": claims})
    return None


def secret_is(got, want):
    """A test secret, alone or with the suite's canary after it (tests/lib.sh
    PB_CANARY: a leak of a secret that carries it is recognised)."""
    return isinstance(got, str) and (got == want or got.startswith(want + "-canary-SUITE-"))
HTML_503 = "<html><body><h1>503 Service Unavailable</h1></body></html>"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(lifetime, kind="access", now=None):
    now = int(time.time()) if now is None else now
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps({"iat": now, "exp": now + lifetime, "jti": secrets.token_hex(8),
                              "sub": USER, "token_type": kind}).encode())
    sig = b64url(hmac.new(SIGNING_KEY, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


class Resp:
    """One answer: status, body (dict/list -> JSON, str -> as is), headers.
    `access` names the access token in the body, for the token faults."""
    def __init__(self, status, body, ctype="application/json", headers=None, access=None):
        self.status, self.body, self.ctype = status, body, ctype
        self.headers, self.access = headers or {}, access

    def payload(self):
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode()
        return self.body.encode()


class State:
    """Everything the mock remembers, behind one lock."""
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.counts = {}
        self.reset()

    def reset(self):
        self.config = dict(DEFAULT_CONFIG)
        self.faults = {}        # path or "*" -> fault dict
        self.access = {}        # token -> (vendor, scheme, exp or None)
        self.refresh = {}       # vendor -> set of valid refresh tokens
        self.latest = {}        # vendor -> last refresh token issued
        self.apitoken = None    # Rythmex get-or-create token (stable)
        self.jtis = set()       # assertion jti seen (a replay is refused)
        self.assertions = []    # the header and claims of each accepted assertion

    def issue(self, vendor, lifetime=None):
        lifetime = self.config["lifetime"] if lifetime is None else lifetime
        tok = make_jwt(int(lifetime))
        self.access[tok] = (vendor, "Bearer", time.time() + int(lifetime))
        return tok

    def new_refresh(self, vendor, token, only_latest=True):
        if only_latest:
            self.refresh[vendor] = set()
        self.refresh.setdefault(vendor, set()).add(token)
        self.latest[vendor] = token
        return token

    def use_refresh(self, vendor, token):
        return isinstance(token, str) and token in self.refresh.get(vendor, set())

    def expires_in(self):
        return self.config.get("expires_in", self.config["lifetime"])

    def take_fault(self, path):
        f = self.faults.get(path) or self.faults.get("*")
        if f is None:
            return None
        if f.get("count") is not None:
            f["count"] -= 1
            if f["count"] <= 0:
                self.faults = {k: v for k, v in self.faults.items() if v is not f}
        return f


# ----------------------------------------------------------------- vendors
# Each vendor: a route table (path -> method), the body format it takes, and
# its own wording for refused credentials and for rate limiting.

class ApiVideo:
    name, form = "apivideo", False
    routes = {"/auth/api-key": "exchange", "/auth/refresh": "refresh"}
    TYPE = "https://docs.api.video/reference/"

    def bad_creds(self):
        return Resp(400, {"type": self.TYPE + "authentication-invalid-user-credentials",
                          "title": "The user credentials were incorrect.", "name": "", "status": 400})

    def rate_limited(self, s):
        return Resp(429, {"type": self.TYPE + "too-many-requests", "title": "Too many requests.",
                          "status": 429})

    def grant(self, st):
        tok = st.issue(self.name)
        ref = st.new_refresh(self.name, "def502" + secrets.token_hex(40))
        return Resp(200, {"token_type": "Bearer", "expires_in": st.expires_in(),
                          "access_token": tok, "refresh_token": ref}, access=tok)

    KEY = "test-apivideo-key"

    def exchange(self, st, body, rec):
        if not secret_is(body.get("apiKey"), self.KEY):
            return self.bad_creds()
        return self.grant(st)

    def refresh(self, st, body, rec):
        rec["refresh_token"] = body.get("refreshToken")
        if not st.use_refresh(self.name, body.get("refreshToken")):
            return Resp(401, {"type": self.TYPE + "authentication-invalid-refresh-token",
                              "title": "The refresh token is invalid.", "name": "", "status": 401})
        return self.grant(st)


class ApiVideoSandbox(ApiVideo):
    """The sandbox: the same contract, its own keys (a production key is refused)."""
    name = "apivideo-sandbox"
    routes = {"/sandbox/auth/api-key": "exchange", "/sandbox/auth/refresh": "refresh"}
    KEY = "test-apivideo-sandbox-key"


class Unith:
    name, form = "unith", False
    routes = {"/auth/token": "exchange"}

    def bad_creds(self):
        return Resp(401, {"message": "Unauthorized"})

    def rate_limited(self, s):
        return Resp(429, {"message": "Too Many Requests"})

    def exchange(self, st, body, rec):
        # either spelling on its own (UNITH's dev-kit sends both): the
        # tests must not depend on the preset sending both
        key = body.get("secretKey", body.get("secretkey"))
        if body.get("email") != USER or not secret_is(key, "test-unith-secret"):
            return self.bad_creds()
        tok = st.issue(self.name)
        if st.config["unith_shape"] == "token":
            return Resp(200, {"token": tok}, access=tok)
        return Resp(200, {"data": {"bearer": tok}}, access=tok)


class Drf:
    """Django REST framework style answers (Rythmex)."""
    def rate_limited(self, s):
        return Resp(429, {"detail": f"Request was throttled. Expected available in {s} seconds."})

    def creds_ok(self, body):
        return body.get("email") == USER and secret_is(body.get("password"), "test-rythmex-password")


class RythmexJwt(Drf):
    name, form = "rythmex-jwt", False
    routes = {"/api/v1/auth/jwt/create/": "exchange", "/api/v1/auth/jwt/refresh/": "refresh"}

    def bad_creds(self):
        return Resp(401, {"detail": "No active account found with the given credentials"},
                    headers={"WWW-Authenticate": 'Bearer realm="api"'})

    def exchange(self, st, body, rec):
        if not self.creds_ok(body):
            return self.bad_creds()
        tok = st.issue(self.name)
        ref = st.new_refresh(self.name, make_jwt(7 * 86400, "refresh"), only_latest=False)
        return Resp(200, {"refresh": ref, "access": tok}, access=tok)

    def refresh(self, st, body, rec):
        old = body.get("refresh")
        rec["refresh_token"] = old
        if not st.use_refresh(self.name, old):
            return Resp(401, {"detail": "Token is invalid or expired", "code": "token_not_valid"})
        tok = st.issue(self.name)
        out = {"access": tok}
        if st.config["rythmex_rotate"]:
            st.refresh[self.name].discard(old)
            out["refresh"] = st.new_refresh(self.name, make_jwt(7 * 86400, "refresh"),
                                            only_latest=False)
        return Resp(200, out, access=tok)


class RythmexApiToken(Drf):
    name, form = "rythmex-apitoken", False
    routes = {"/api/v1/auth/api-token/get-or-create/": "exchange"}

    def bad_creds(self):
        return Resp(400, {"non_field_errors": ["Unable to log in with provided credentials."]})

    def exchange(self, st, body, rec):
        if not self.creds_ok(body):
            return self.bad_creds()
        if st.apitoken is None:   # get-or-create: one token per user
            st.apitoken = secrets.token_hex(20)
            st.access[st.apitoken] = (self.name, "Token", None)
        return Resp(200, {"token": st.apitoken}, access=st.apitoken)


class HautaiLogin:
    name, form = "hautai-login", False
    routes = {"/api/v1/auth/login/": "exchange"}

    @staticmethod
    def drf_error(status, code, detail):
        return Resp(status, {"type": "client_error",
                             "errors": [{"code": code, "detail": detail, "attr": None}]})

    def bad_creds(self):
        return self.drf_error(401, "authentication_failed", "Incorrect authentication credentials.")

    def rate_limited(self, s):
        return self.drf_error(429, "throttled", f"Request was throttled. Expected available in {s} seconds.")

    def exchange(self, st, body, rec):
        if body.get("username") != USER or not secret_is(body.get("password"), "test-hautai-password"):
            return self.bad_creds()
        tok = st.issue(self.name)
        return Resp(200, {"id": 1, "email": USER, "company_id": "c1", "token_access": tok,
                          "access_token": tok, "refresh_token": "x", "is_verified": True},
                    access=tok)


class OAuth2:
    name, form = "oauth2", True
    routes = {"/oauth/token": "token"}

    def bad_creds(self):
        return Resp(401, {"error": "invalid_client", "error_description": "Client authentication failed"},
                    headers={"WWW-Authenticate": 'Basic realm="oauth"'})

    def rate_limited(self, s):
        return Resp(429, {"error": "temporarily_unavailable", "error_description": "Too many requests"})

    def token(self, st, form, rec, basic=None):
        get = lambda k: form.get(k, [None])[0]
        rec.update(grant_type=get("grant_type"), scope=get("scope"), audience=get("audience"),
                   body_client_secret="client_secret" in form)
        if get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            # private_key_jwt (RFC 7523 2.2): aud is this token endpoint
            rec["client_auth"] = "private_key_jwt"
            why = check_assertion(st, get("client_assertion") or "", "test-client", self.url)
            if why is not None:
                return Resp(401, {"error": "invalid_client",
                                  "error_description": "client assertion: " + why})
            cid = csec = "private_key_jwt"
        elif basic is not None:
            rec["client_auth"], (cid, csec) = "basic", basic
        elif get("client_secret") is not None:
            rec["client_auth"], cid, csec = "body", get("client_id"), get("client_secret")
        else:
            cid = csec = None
        if cid == "private_key_jwt":
            pass
        elif cid != "test-client" or not secret_is(csec, "test-client-secret"):
            if not (get("grant_type") == "refresh_token" and cid is None):
                return self.bad_creds()
        if get("grant_type") == "refresh_token":
            rec["refresh_token"] = get("refresh_token")
            if not st.use_refresh(self.name, get("refresh_token")):
                return Resp(400, {"error": "invalid_grant", "error_description": "Invalid refresh token"})
        elif get("grant_type") != "client_credentials":
            return Resp(400, {"error": "unsupported_grant_type"})
        tok = st.issue(self.name)
        out = {"access_token": tok, "token_type": "Bearer", "expires_in": st.expires_in()}
        if st.config["oauth2_refresh"]:
            out["refresh_token"] = st.new_refresh(self.name, secrets.token_urlsafe(32))
        return Resp(200, out, access=tok)


class GitHubApp:
    """A GitHub App's installation token: the app's own JWT (iss = the app
    id, signed RS256) as the bearer of the request, as GitHub's REST API
    takes it; installation 67890 of app 12345 only."""
    name, form = "github-app", False
    routes = {"/app/installations/67890/access_tokens": "exchange"}

    def bad_creds(self):
        return Resp(401, {"message": "Bad credentials",
                          "documentation_url": "https://docs.github.com/rest"})

    def rate_limited(self, s):
        return Resp(429, {"message": "API rate limit exceeded"})

    def exchange(self, st, body, rec):
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return self.bad_creds()
        why = check_assertion(st, auth[7:], "12345", None)
        if why is not None:
            return Resp(401, {"message": "JWT: " + why,
                              "documentation_url": "https://docs.github.com/rest"})
        tok = "ghs_" + secrets.token_hex(18)
        life = int(st.config["lifetime"])
        st.access[tok] = (self.name, "Bearer", time.time() + life)
        return Resp(201, {"token": tok, "expires_at": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + life)),
            "permissions": {"contents": "read"}, "repository_selection": "all"}, access=tok)


class GoogleServiceAccount:
    """Google's token endpoint for a service account: the jwt-bearer grant
    (RFC 7523 2.1), an assertion with iss = the account's email, aud = this
    endpoint, a scope, and kid = the key's id."""
    name, form = "google-service-account", True
    routes = {"/google/token": "token"}
    EMAIL, KID = "svc@pam-bearer-test.iam.gserviceaccount.com", "0123456789abcdef"

    def bad_creds(self):
        return Resp(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})

    def rate_limited(self, s):
        return Resp(429, {"error": "rate_limit_exceeded"})

    def token(self, st, form, rec, basic=None):
        get = lambda k: form.get(k, [None])[0]
        rec.update(grant_type=get("grant_type"))
        if get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Resp(400, {"error": "unsupported_grant_type"})
        why = check_assertion(st, get("assertion") or "", self.EMAIL, self.url)
        if why is None and st.assertions[-1]["header"].get("kid") != self.KID:
            why = "kid is %s, not the key's id" % st.assertions[-1]["header"].get("kid")
        if why is None and not st.assertions[-1]["claims"].get("scope"):
            why = "no scope"
        if why is not None:
            return Resp(400, {"error": "invalid_grant", "error_description": "assertion: " + why})
        tok = st.issue(self.name)
        return Resp(200, {"access_token": tok, "expires_in": st.expires_in(), "token_type": "Bearer"},
                    access=tok)


VENDORS = [ApiVideo(), ApiVideoSandbox(), Unith(), RythmexJwt(), RythmexApiToken(), HautaiLogin(),
           OAuth2(), GitHubApp(), GoogleServiceAccount()]
ROUTES = {path: (v, meth) for v in VENDORS for path, meth in v.routes.items()}


# ----------------------------------------------------------------- faults

def replace_token(obj, old, new):
    """Copy of obj with every string equal to `old` replaced by `new`."""
    if isinstance(obj, dict):
        return {k: replace_token(v, old, new) for k, v in obj.items()}
    if isinstance(obj, list):
        return [replace_token(v, old, new) for v in obj]
    return new if obj == old else obj


def fault_before(mode, f, vendor):
    """Answers that replace the vendor's (None: let the vendor answer)."""
    ra = int(f.get("retry_after", 30))
    return {
        "500": lambda: Resp(500, "<h1>Server Error (500)</h1>", "text/html"),
        "503": lambda: Resp(503, HTML_503, "text/html"),
        "429": lambda: Resp(429, vendor.rate_limited(ra).body,
                            headers={h: str(ra) for h in f.get(
                                "headers", ["Retry-After", "X-RateLimit-Retry-After"])}),
        "malformed": lambda: Resp(200, '{"access_token": "abc'),
        "html": lambda: Resp(200, "<html><body><h1>Welcome!</h1></body></html>", "text/html"),
        "missing-field": lambda: Resp(200, {}),
        "bad-creds": vendor.bad_creds,
        "redirect": lambda: Resp(302, "", "text/html",
                                 headers={"Location": "https://127.0.0.1:1/elsewhere"}),
        "not-found": lambda: Resp(404, "<html><body><h1>Not Found</h1></body></html>", "text/html"),
        "401": lambda: Resp(401, {"detail": "Authentication credentials were not provided."}),
        "403": lambda: Resp(403, {"detail": "forbidden"}),
        "raw": lambda: raw_answer(f),
    }.get(mode, lambda: None)()


def raw_answer(f):
    """The "raw" fault: the status, body, type and headers the test gave."""
    body = base64.b64decode(f["body_b64"]) if "body_b64" in f else f.get("body", "")
    return Resp(int(f.get("status", 200)), body, f.get("ctype", "application/json"),
                headers=dict(f.get("headers", {})))


def make_jwt_claims(claims):
    """A JWT signed like the mock's own, with exactly `claims` as its payload."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    sig = b64url(hmac.new(SIGNING_KEY, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def spoil_token(f, resp):
    """The "token" and "jwt" faults: a good answer carrying another token."""
    if f["mode"] == "jwt":
        value, drop = make_jwt_claims(f.get("claims", {})), ["expires_in"]
    else:
        value, drop = f.get("value"), []
    body = replace_token(resp.body, resp.access, value)
    for k in list(drop) + list(f.get("drop", [])):
        body.pop(k, None)
    body.update(f.get("set", {}))
    return Resp(resp.status, body, resp.ctype, resp.headers)


def fault_after(mode, resp, f=None):
    """Spoil a successful answer's token (oversize keeps it valid but huge)."""
    if resp.status != 200 or not isinstance(resp.body, dict) or resp.access is None:
        return resp
    body = resp.body
    if mode in ("token", "jwt"):
        return spoil_token(f, resp)
    if mode == "oversize":
        body = dict(body, padding="x" * (120 * 1024))
    elif mode == "wrong-type":
        body = replace_token(body, resp.access, 123)
    elif mode == "ctrl-token":
        body = replace_token(body, resp.access, "abc\r\nX-Injected: 1")
    elif mode == "space-token":
        body = replace_token(body, resp.access, "abc def")
    elif mode == "expired-jwt":
        body = replace_token(body, resp.access, make_jwt(60, now=int(time.time()) - 3660))
        body.pop("expires_in", None)
    return Resp(resp.status, body, resp.ctype, resp.headers)


# ----------------------------------------------------------------- server

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-vendor/1.0"

    def log_message(self, fmt, *args):   # quiet: the --log file has it all
        pass

    def send_truncated(self, resp):
        """Half the body, a Content-Length for all of it, then hang up."""
        data = resp.payload()
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[:len(data) // 2])
        self.wfile.flush()
        self.close_connection = True
        return resp.status

    def send(self, resp):
        data = resp.payload()
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        return resp.status

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def ctype(self):
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def record(self, rec, status):
        rec["status"] = status
        st = self.server.state
        with st.lock:
            st.requests.append(rec)
            st.counts[rec["path"]] = st.counts.get(rec["path"], 0) + 1
        if self.server.log:
            with self.server.log_lock:
                self.server.log.write(json.dumps(rec) + "\n")
                self.server.log.flush()

    def new_record(self):
        return {"t": time.time(), "method": self.command, "path": self.path.split("?")[0],
                "status": None, "user_agent": self.headers.get("User-Agent"),
                "accept": self.headers.get("Accept"), "content_type": self.headers.get("Content-Type"),
                "client_auth": None}

    # --------------------------------------------------------------- GET
    def do_GET(self):
        st, path = self.server.state, self.path.split("?")[0]
        if path.startswith("/_mock/"):
            return self.query(path, parse_qs(urlsplit(self.path).query))
        if self.server.control_only:
            return self.send(Resp(404, {"detail": "control port: /_mock/ only"}))
        rec = self.new_record()
        if path != "/v1/whoami":
            return self.record(rec, self.send(Resp(404, "<h1>Not Found</h1>", "text/html")))
        auth = self.headers.get("Authorization") or ""
        rec["authorization"] = auth
        scheme, _, tok = auth.partition(" ")
        with st.lock:
            known = st.access.get(tok)
        if known and known[1] == scheme and (known[2] is None or known[2] > time.time()):
            resp = Resp(200, {"ok": True, "vendor": known[0]})
        else:
            resp = Resp(401, {"detail": "Invalid token."}, headers={"WWW-Authenticate": "Bearer"})
        self.record(rec, self.send(resp))

    def query(self, path, q):
        """Control GETs: the stats as JSON, or one plain-text answer each."""
        st, arg = self.server.state, {k: v[0] for k, v in q.items()}
        with st.lock:
            reqs = [r for r in st.requests if r["path"] == arg.get("path", r["path"])]
            if path == "/_mock/stats":
                out = Resp(200, {"requests": list(st.requests), "counts": dict(st.counts),
                                 "latest_refresh": dict(st.latest), "config": dict(st.config),
                                 "assertions": list(st.assertions)})
            elif path == "/_mock/count":          # ?path=P, else every request
                out = len(reqs)
            elif path == "/_mock/last":           # ?path=P&field=F
                out = reqs[-1].get(arg.get("field")) if reqs else "NO-REQUEST"
            elif path == "/_mock/last-refresh":   # ?vendor=V
                out = st.latest.get(arg.get("vendor"), "")
            else:
                out = Resp(404, {"detail": "no such control"})
        if isinstance(out, Resp):
            return self.send(out)
        text = out if isinstance(out, str) else json.dumps(out)
        self.send(Resp(200, text + "\n", "text/plain"))

    # --------------------------------------------------------------- POST
    def do_POST(self):
        path = self.path.split("?")[0]
        raw = self.read_body()
        if path.startswith("/_mock/"):
            return self.control(path, raw)
        if self.server.control_only:
            return self.send(Resp(404, {"detail": "control port: /_mock/ only"}))
        rec = self.new_record()
        self.record(rec, self.vendor_post(path, raw, rec))

    def control(self, path, raw):
        st = self.server.state
        try:
            arg = json.loads(raw or b"{}")
        except ValueError:
            return self.send(Resp(400, {"detail": "bad JSON"}))
        with st.lock:
            if path == "/_mock/config":
                st.config.update(arg)
            elif path == "/_mock/fault":   # mode "none" clears the path's fault
                if arg.get("mode") in (None, "", "none"):
                    st.faults.pop(arg.get("path", "*"), None)
                else:
                    st.faults[arg.get("path", "*")] = dict(arg)
            elif path == "/_mock/reset":
                st.reset()
                st.requests, st.counts = [], {}
            elif path == "/_mock/revoke-refresh":
                st.refresh, st.latest = {}, {}
            else:
                return self.send(Resp(404, {"detail": "no such control"}))
        self.send(Resp(200, {"ok": True}))

    def vendor_post(self, path, raw, rec):
        st = self.server.state
        route = ROUTES.get(path)
        with st.lock:
            fault = st.take_fault(path) if route else None
        mode = fault["mode"] if fault else None
        if route is None:
            return self.send(Resp(404, "<html><body><h1>Not Found</h1></body></html>", "text/html"))
        vendor, meth = route
        if mode:
            rec["fault"] = mode
        if mode == "hang":
            return self.hang()
        if mode == "slow":
            time.sleep(float(fault.get("delay", 2)))
        early = fault_before(mode, fault, vendor) if mode else None
        if early is not None:
            return self.send(early)
        # Parse the request the way the real vendor would.
        basic = None
        if vendor.form:
            if self.ctype() != "application/x-www-form-urlencoded":
                return self.send(Resp(400, {"error": "invalid_request",
                                            "error_description": "form-encoded body required"}))
            body = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
            auth = self.headers.get("Authorization") or ""
            if auth.startswith("Basic "):
                try:
                    cid, _, csec = base64.b64decode(auth[6:]).decode().partition(":")
                    basic = (cid, csec)
                except ValueError:
                    basic = ("", "")
        else:
            if self.ctype() != "application/json":
                return self.send(Resp(415, {"detail": "Unsupported media type"}))
            try:
                body = json.loads(raw)
                assert isinstance(body, dict)
            except (ValueError, AssertionError):
                return self.send(Resp(400, {"detail": "JSON parse error"}))
        rec["body_keys"] = " ".join(sorted(body))   # the names, never a value
        # what a vendor may look at beyond the body: its own URL (an
        # assertion's aud) and the headers (GitHub's bearer JWT)
        vendor.url = "%s://%s%s" % ("http" if self.server.tls is None else "https",
                                    self.headers.get("Host", ""), self.path.split("?")[0])
        vendor.headers = self.headers
        with st.lock:
            if vendor.form:
                resp = vendor.token(st, body, rec, basic)
            else:
                resp = getattr(vendor, meth)(st, body, rec)
        if mode == "truncate":
            return self.send_truncated(resp)
        return self.send(fault_after(mode, resp, fault) if mode else resp)

    def hang(self):
        """Accept, never answer: wait until the client goes away (or 60 s)."""
        sock = self.connection
        end = time.time() + 60
        while time.time() < end:
            r, _, _ = select.select([sock], [], [], 0.2)
            if r:   # data or EOF: either way the client has given up on us
                break
        self.close_connection = True
        return 0


class MockServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's listen backlog is 5: a hundred logins connecting at
    # once would have their SYNs dropped and retried a second later, which
    # no vendor's front end does (nginx listens with 511)
    request_queue_size = 1024

    def __init__(self, tls, log, state=None, control_only=False):
        super().__init__(("127.0.0.1", 0), Handler)
        self.tls, self.control_only = tls, control_only
        self.state, self.log_lock = state or State(), threading.Lock()
        self.log = open(log, "a", encoding="utf-8") if log else None

    def finish_request(self, request, client_address):
        # The TLS handshake runs here, in the request's own thread, so a
        # client that stalls (or refuses our certificate) blocks nobody.
        request.settimeout(65)
        # headers and body go out as two writes: without this, Nagle and
        # the client's delayed ACK cost 40 ms per request
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is None:
            return super().finish_request(request, client_address)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(conn, client_address)
        finally:
            conn.close()

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if not isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError)):
            super().handle_error(request, client_address)


def watchdog(max_seconds, parent):
    """Exit after max_seconds, or once our parent is gone (no orphans)."""
    end = time.time() + max_seconds
    while time.time() < end and os.getppid() == parent:
        time.sleep(0.5)
    why = "parent gone" if os.getppid() != parent else f"{max_seconds:g} s are up"
    print(f"mock_vendor: exiting: {why}", file=sys.stderr, flush=True)
    os._exit(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--control-port-file",
                    help="also serve /_mock/* over plain HTTP on a second port (faster for tests)")
    ap.add_argument("--log")
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--plain", action="store_true", help="plain HTTP instead of HTTPS")
    a = ap.parse_args()
    tls = None
    if not a.plain:
        if not (a.cert and a.key):
            ap.error("--cert and --key are required unless --plain")
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(a.cert, a.key)
    srv = MockServer(tls, a.log)
    signal.signal(signal.SIGTERM, lambda n, f: (print(f"mock_vendor: signal {n}", file=sys.stderr,
                                                      flush=True), os._exit(0)))
    threading.Thread(target=watchdog, args=(a.max_seconds, os.getppid()), daemon=True).start()
    if a.control_port_file:
        ctl = MockServer(None, None, state=srv.state, control_only=True)
        threading.Thread(target=ctl.serve_forever, args=(0.2,), daemon=True).start()
        write_port(a.control_port_file, ctl.server_address[1])
    write_port(a.port_file, srv.server_address[1])
    srv.serve_forever(poll_interval=0.2)


def write_port(path, port):
    with open(path + ".tmp", "w") as f:
        f.write(f"{port}\n")
    os.rename(path + ".tmp", path)   # readers never see a partial number


if __name__ == "__main__":
    main()
