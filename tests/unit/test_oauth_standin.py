"""The Google OAuth stand-in's own behaviour, through Flask's test client."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from tests.oauth_standin import create_app

CLIENT_ID = "hub-client"
CLIENT_SECRET = "hub-secret"
REDIRECT_URI = "http://127.0.0.1:8000/hub/oauth_callback"
CODE_VERIFIER = "verifier-" + "x" * 43


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_params(**overrides: str) -> dict[str, str]:
    """What GoogleOAuthenticator 17.4 puts on the authorize URL."""
    params = {
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "client_id": CLIENT_ID,
        "code_challenge": s256(CODE_VERIFIER),
        "code_challenge_method": "S256",
        "state": "opaque-state",
        "scope": "openid email",
    }
    params.update(overrides)
    return params


def token_form(code: str, **overrides: str) -> dict[str, str]:
    """GoogleOAuthenticator's token request body (credentials in the body: its default)."""
    form = {
        "code": code,
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT_URI,
        "data": "None",
        "code_verifier": CODE_VERIFIER,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    form.update(overrides)
    return form


def basic_header(client_id: str, client_secret: str) -> dict[str, str]:
    encoded = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


@pytest.fixture
def client() -> FlaskClient:
    app = create_app(
        accounts={"Unverified@Example.org": {"verified_email": False, "email_verified": False}},
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    return app.test_client()


def sign_in(client: FlaskClient, email: str, **overrides: str) -> dict[str, list[str]]:
    """Submit the account chooser; return the query of the redirect back to the client."""
    response = client.post("/authorize", data={**authorize_params(**overrides), "email": email})
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return parse_qs(location.query)


def code_for(client: FlaskClient, email: str) -> str:
    return sign_in(client, email)["code"][0]


def exchange(client: FlaskClient, code: str) -> dict[str, Any]:
    response = client.post("/token", data=token_form(code))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def userinfo(client: FlaskClient, access_token: str) -> Any:
    return client.get("/userinfo", headers={"Authorization": f"Bearer {access_token}"})


def test_authorize_page_offers_an_email_box_and_sign_in_button(
    client: FlaskClient,
) -> None:
    response = client.get("/authorize", query_string=authorize_params())
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="email"' in page
    assert ">Sign in</button>" in page
    # The request's parameters ride along in the form, escaped.
    assert 'name="state" value="opaque-state"' in page
    assert f'name="code_challenge" value="{s256(CODE_VERIFIER)}"' in page


def test_full_code_flow_returns_google_shaped_userinfo(client: FlaskClient) -> None:
    query = sign_in(client, "Ann.Lee@example.org")
    assert query["state"] == ["opaque-state"]

    token = exchange(client, query["code"][0])
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] > 0
    assert token["scope"] == "openid email"

    response = userinfo(client, token["access_token"])
    assert response.status_code == 200
    info = response.get_json()
    assert info["email"] == "Ann.Lee@example.org"
    assert info["verified_email"] is True  # the name GoogleOAuthenticator reads
    assert info["email_verified"] is True  # the OpenID Connect name
    assert info["hd"] == "example.org"
    assert info["name"] == "Ann Lee"
    assert info["given_name"] == "Ann"
    assert info["sub"].isdigit()


def test_id_token_carries_the_same_claims_for_the_client(client: FlaskClient) -> None:
    token = exchange(client, code_for(client, "bob@example.org"))
    payload_part = token["id_token"].split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload_part + "=" * (-len(payload_part) % 4)))
    assert claims["aud"] == CLIENT_ID
    assert claims["email"] == "bob@example.org"
    assert claims["hd"] == "example.org"


def test_hd_reports_the_emails_own_domain(client: FlaskClient) -> None:
    token = exchange(client, code_for(client, "eve@Evil.Test"))
    assert userinfo(client, token["access_token"]).get_json()["hd"] == "evil.test"


def test_account_overrides_change_claims(client: FlaskClient) -> None:
    token = exchange(client, code_for(client, "unverified@example.org"))
    info = userinfo(client, token["access_token"]).get_json()
    assert info["verified_email"] is False
    assert info["email_verified"] is False


def test_the_same_person_keeps_the_same_subject(client: FlaskClient) -> None:
    first = exchange(client, code_for(client, "ann@example.org"))
    second = exchange(client, code_for(client, "ann@example.org"))
    other = exchange(client, code_for(client, "bob@example.org"))

    def sub(token: dict[str, Any]) -> str:
        return userinfo(client, token["access_token"]).get_json()["sub"]

    assert sub(first) == sub(second) != sub(other)


def test_codes_are_single_use(client: FlaskClient) -> None:
    code = code_for(client, "ann@example.org")
    exchange(client, code)
    again = client.post("/token", data=token_form(code))
    assert again.status_code == 400
    assert again.get_json()["error"] == "invalid_grant"


def test_code_is_bound_to_its_redirect_uri(client: FlaskClient) -> None:
    code = code_for(client, "ann@example.org")
    response = client.post(
        "/token", data=token_form(code, redirect_uri="http://127.0.0.1:9/elsewhere")
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_code_needs_the_pkce_verifier(client: FlaskClient) -> None:
    code = code_for(client, "ann@example.org")
    response = client.post("/token", data=token_form(code, code_verifier="wrong-verifier"))
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"


def test_bad_client_secret_is_refused(client: FlaskClient) -> None:
    code = code_for(client, "ann@example.org")
    response = client.post("/token", data=token_form(code, client_secret="not-the-secret"))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"


def test_credentials_in_a_basic_header_are_accepted(client: FlaskClient) -> None:
    form = token_form(code_for(client, "ann@example.org"))
    del form["client_id"], form["client_secret"]
    response = client.post("/token", data=form, headers=basic_header(CLIENT_ID, CLIENT_SECRET))
    assert response.status_code == 200
    assert userinfo(client, response.get_json()["access_token"]).status_code == 200


def test_bad_secret_in_a_basic_header_is_refused(client: FlaskClient) -> None:
    form = token_form(code_for(client, "ann@example.org"))
    del form["client_id"], form["client_secret"]
    response = client.post("/token", data=form, headers=basic_header(CLIENT_ID, "nope"))
    assert response.status_code == 401


def test_other_grant_types_are_refused(client: FlaskClient) -> None:
    code = code_for(client, "ann@example.org")
    response = client.post("/token", data=token_form(code, grant_type="refresh_token"))
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize(
    "header",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"}],
    ids=["no-token", "unknown-token", "wrong-scheme"],
)
def test_userinfo_refuses_bad_tokens(client: FlaskClient, header: dict[str, str]) -> None:
    response = client.get("/userinfo", headers=header)
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_client_id_is_a_clear_400(client: FlaskClient) -> None:
    response = client.get("/authorize", query_string=authorize_params(client_id="stranger"))
    assert response.status_code == 400
    assert "unknown client_id 'stranger'" in response.get_json()["error_description"]


@pytest.mark.parametrize("missing", ["response_type", "redirect_uri", "state"])
def test_authorize_requires_its_parameters(client: FlaskClient, missing: str) -> None:
    params = authorize_params()
    del params[missing]
    response = client.get("/authorize", query_string=params)
    assert response.status_code == 400
    assert response.get_json()["error"] in {
        "invalid_request",
        "unsupported_response_type",
    }


def test_sign_in_without_an_email_shows_the_page_again(client: FlaskClient) -> None:
    response = client.post("/authorize", data={**authorize_params(), "email": "not-an-email"})
    assert response.status_code == 400
    assert 'id="email"' in response.get_data(as_text=True)


def test_cancel_returns_access_denied_with_the_state(client: FlaskClient) -> None:
    response = client.post("/authorize", data={**authorize_params(), "action": "deny"})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query == {"error": ["access_denied"], "state": ["opaque-state"]}
