"""A local stand-in for Google's OAuth 2.0 endpoints, for tests only.

It speaks the authorization-code flow the way oauthenticator's
GoogleOAuthenticator (17.4) uses it:

- GET  /authorize  ?client_id, response_type=code, redirect_uri, state, scope,
                    code_challenge, code_challenge_method (PKCE, on by default)
  shows an account chooser (an email box and "Sign in"); POST /authorize
  redirects to redirect_uri?code=...&state=...
- POST /token      form body: grant_type=authorization_code, code, redirect_uri,
                    code_verifier, and client_id/client_secret in the body
                    (oauthenticator's default) or in an Authorization: Basic
                    header (its basic_auth option)
- GET  /userinfo   Authorization: Bearer <access_token> -> Google's v1 userinfo
                    shape (GoogleOAuthenticator reads "email", "verified_email"
                    and "hd") plus the OpenID Connect names ("sub",
                    "email_verified").

Any email signs in: tests choose the people. The "hd" claim is the email's
domain, reported truthfully, so hosted_domain restrictions can be tested.
State lives in memory; codes are single use and bound to their client,
redirect_uri and PKCE challenge.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from flask import Flask, Response, jsonify, redirect, render_template_string, request

DEFAULT_CLIENT_ID = "swarmhub-test-client"
DEFAULT_CLIENT_SECRET = "swarmhub-test-secret"
TOKEN_LIFETIME_SECONDS = 3599  # what Google reports for its access tokens

CHOOSER_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in - Google Accounts (test stand-in)</title></head>
<body>
  <h1>Sign in</h1>
  <p>to continue to {{ redirect_host }}</p>
  {% if error %}<p id="error" role="alert">{{ error }}</p>{% endif %}
  <form method="post" action="{{ action }}">
    {% for name, value in hidden.items() %}
    <input type="hidden" name="{{ name }}" value="{{ value }}">
    {% endfor %}
    <label for="email">Email</label>
    <input type="email" id="email" name="email" autocomplete="username" required autofocus>
    <button type="submit" id="sign-in" name="action" value="allow">Sign in</button>
    <button type="submit" id="cancel" name="action" value="deny" formnovalidate>Cancel</button>
  </form>
</body>
</html>
"""

# Authorization request parameters carried from GET /authorize to POST /authorize.
CARRIED_PARAMS = (
    "client_id",
    "response_type",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
)


class OAuthRequestError(Exception):
    """A request the stand-in refuses, with the OAuth error code and HTTP status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass(frozen=True)
class Grant:
    """What an authorization code stands for until it is exchanged."""

    email: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str
    code_challenge_method: str


@dataclass
class StandinState:
    """The stand-in's memory: outstanding codes and issued access tokens."""

    accounts: dict[str, dict[str, Any]]
    codes: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, Grant] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue_code(self, grant: Grant) -> str:
        code = "code-" + secrets.token_urlsafe(24)
        with self.lock:
            self.codes[code] = grant
        return code

    def redeem_code(self, code: str) -> Grant | None:
        # Popping makes a code single use, even when the exchange then fails.
        with self.lock:
            return self.codes.pop(code, None)

    def issue_token(self, grant: Grant) -> str:
        token = "ya29.standin-" + secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = grant
        return token

    def grant_for_token(self, token: str) -> Grant | None:
        with self.lock:
            return self.tokens.get(token)


def subject_for(email: str) -> str:
    """A stable, Google-like numeric subject id for an email."""
    digest = hashlib.sha256(email.lower().encode("utf-8")).digest()
    return str(10**20 + int.from_bytes(digest[:12], "big") % (9 * 10**20))


def userinfo_for(email: str, accounts: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The userinfo document for an email, with per-account overrides applied.

    An override value of None removes that claim (e.g. {"hd": None} for a
    consumer account, which Google reports without "hd").
    """
    local_part, _, domain = email.partition("@")
    words = [word.capitalize() for word in local_part.replace("_", ".").split(".") if word]
    given_name = words[0] if words else local_part
    info: dict[str, Any] = {
        "sub": subject_for(email),
        "id": subject_for(email),
        "email": email,
        "email_verified": True,
        "verified_email": True,
        "hd": domain.lower(),
        "name": " ".join(words) or local_part,
        "given_name": given_name,
        "family_name": " ".join(words[1:]),
    }
    for key, value in accounts.get(email.lower(), {}).items():
        if value is None:
            info.pop(key, None)
        else:
            info[key] = value
    return info


def is_plausible_email(email: str) -> bool:
    local_part, at, domain = email.partition("@")
    return bool(at and local_part and domain and "@" not in domain and " " not in email)


def with_query(url: str, params: Mapping[str, str]) -> str:
    """url with params added to its query, keeping what it already had."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_id_token(
    claims: Mapping[str, Any], client_id: str, client_secret: str, issuer: str
) -> str:
    """An HS256 JWT with the userinfo claims (oauthenticator does not verify the signature)."""
    now = int(time.time())
    payload = {
        **claims,
        "iss": issuer,
        "aud": client_id,
        "azp": client_id,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECONDS,
    }
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    signing_input = f"{header}.{body}".encode("ascii")
    signature = hmac.new(client_secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(signature)}"


def pkce_matches(grant: Grant, code_verifier: str) -> bool:
    if grant.code_challenge_method == "S256":
        computed = b64url(hashlib.sha256(code_verifier.encode("ascii")).digest())
    else:  # "plain", RFC 7636's default when no method is given
        computed = code_verifier
    return hmac.compare_digest(computed, grant.code_challenge)


def client_credentials() -> tuple[str, str]:
    """The client id and secret from an Authorization: Basic header or the form body."""
    header = request.headers.get("Authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthRequestError("invalid_client", "Malformed Basic credentials.", 401) from None
        user, colon, password = decoded.partition(":")
        if not colon:
            raise OAuthRequestError("invalid_client", "Malformed Basic credentials.", 401)
        # RFC 6749 2.3.1: both parts are form-urlencoded before base64.
        return unquote(user.replace("+", " ")), unquote(password.replace("+", " "))
    return request.form.get("client_id", ""), request.form.get("client_secret", "")


def create_app(
    accounts: Mapping[str, Mapping[str, Any]] | None = None,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
) -> Flask:
    """The stand-in as a Flask app.

    accounts: optional overrides of userinfo claims by email (case-insensitive),
    e.g. {"unverified@example.org": {"verified_email": False}}. Emails not
    listed sign in with the defaults (verified, hd = the email's domain).
    """
    app = Flask(__name__)
    state = StandinState(
        accounts={email.lower(): dict(claims) for email, claims in (accounts or {}).items()}
    )
    app.extensions["oauth_standin"] = state

    @app.errorhandler(OAuthRequestError)
    def oauth_error(error: OAuthRequestError) -> tuple[Response, int]:
        response = jsonify(error=error.error, error_description=error.description)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = f'Bearer error="{error.error}"'
        return response, error.status

    def authorization_params(source: Mapping[str, str]) -> dict[str, str]:
        """The authorization request's parameters, validated like Google does."""
        params = {name: source.get(name, "") for name in CARRIED_PARAMS}
        if not params["client_id"]:
            raise OAuthRequestError("invalid_request", "Missing required parameter: client_id")
        if params["client_id"] != client_id:
            raise OAuthRequestError(
                "invalid_client",
                f"The OAuth client was not found: unknown client_id {params['client_id']!r}.",
            )
        if params["response_type"] != "code":
            raise OAuthRequestError(
                "unsupported_response_type",
                "Only response_type=code is supported by this stand-in.",
            )
        if not params["redirect_uri"]:
            raise OAuthRequestError("invalid_request", "Missing required parameter: redirect_uri")
        if urlsplit(params["redirect_uri"]).scheme not in ("http", "https"):
            raise OAuthRequestError("invalid_request", "redirect_uri must be an http(s) URL.")
        if not params["state"]:
            raise OAuthRequestError("invalid_request", "Missing required parameter: state")
        if params["code_challenge_method"] not in ("", "S256", "plain"):
            raise OAuthRequestError("invalid_request", "Unsupported code_challenge_method.")
        return params

    def chooser(params: dict[str, str], error: str = "", status: int = 200) -> tuple[str, int]:
        page = render_template_string(
            CHOOSER_PAGE,
            action=request.path,
            hidden={name: value for name, value in params.items() if value},
            redirect_host=urlsplit(params["redirect_uri"]).netloc,
            error=error,
        )
        return page, status

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    @app.get("/authorize")
    def authorize_page() -> tuple[str, int]:
        return chooser(authorization_params(request.args))

    @app.post("/authorize")
    def authorize_submit() -> Any:
        params = authorization_params(request.form)
        if request.form.get("action") == "deny":
            return redirect(
                with_query(
                    params["redirect_uri"],
                    {"error": "access_denied", "state": params["state"]},
                )
            )
        email = request.form.get("email", "").strip()
        if not is_plausible_email(email):
            return chooser(params, error="Enter a valid email address.", status=400)
        code = state.issue_code(
            Grant(
                email=email,
                client_id=params["client_id"],
                redirect_uri=params["redirect_uri"],
                scope=params["scope"],
                code_challenge=params["code_challenge"],
                code_challenge_method=params["code_challenge_method"] or "plain",
            )
        )
        return redirect(
            with_query(params["redirect_uri"], {"code": code, "state": params["state"]})
        )

    @app.post("/token")
    def token() -> Response:
        given_id, given_secret = client_credentials()
        if given_id != client_id or not hmac.compare_digest(
            given_secret.encode(), client_secret.encode()
        ):
            raise OAuthRequestError("invalid_client", "Unauthorized client credentials.", 401)
        if request.form.get("grant_type") != "authorization_code":
            raise OAuthRequestError(
                "unsupported_grant_type",
                "Only grant_type=authorization_code is supported.",
            )
        grant = state.redeem_code(request.form.get("code", ""))
        if grant is None:
            raise OAuthRequestError("invalid_grant", "Malformed auth code or already used.")
        if grant.client_id != given_id:
            raise OAuthRequestError("invalid_grant", "The code was issued to another client.")
        if request.form.get("redirect_uri", "") != grant.redirect_uri:
            raise OAuthRequestError("invalid_grant", "redirect_uri_mismatch")
        if grant.code_challenge and not pkce_matches(grant, request.form.get("code_verifier", "")):
            raise OAuthRequestError("invalid_grant", "Invalid code verifier.")
        access_token = state.issue_token(grant)
        claims = userinfo_for(grant.email, state.accounts)
        return jsonify(
            access_token=access_token,
            token_type="Bearer",
            expires_in=TOKEN_LIFETIME_SECONDS,
            scope=grant.scope,
            id_token=make_id_token(claims, client_id, client_secret, request.host_url.rstrip("/")),
        )

    @app.get("/userinfo")
    def userinfo() -> Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            # Google also takes the token as a query parameter (userdata_token_method="url").
            token = request.args.get("access_token", "")
        grant = state.grant_for_token(token.strip())
        if grant is None:
            raise OAuthRequestError(
                "invalid_token", "Request had invalid authentication credentials.", 401
            )
        return jsonify(userinfo_for(grant.email, state.accounts))

    return app
