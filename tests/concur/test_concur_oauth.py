import datetime as dt
import json

import pytest

from worker.concur import oauth
from worker.concur.errors import NeedsReconnect, TokenError, UserLivesElsewhere

from concur_helpers import reference

NOW = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def load(name: str):
    return json.loads(reference("oauth", name).read_text())


def test_request_token_form_is_company_password_grant():
    form = oauth.request_token_form("cid", "csecret", "COMPANY-UUID", "reqtok")
    assert form == {
        "client_id": "cid",
        "client_secret": "csecret",
        "grant_type": "password",
        "username": "COMPANY-UUID",
        "password": "reqtok",
        "credtype": "authtoken",
    }


def test_refresh_and_client_credentials_forms():
    assert oauth.refresh_form("c", "s", "rt")["grant_type"] == "refresh_token"
    assert oauth.refresh_form("c", "s", "rt")["refresh_token"] == "rt"
    assert oauth.client_credentials_form("c", "s") == {"client_id": "c", "client_secret": "s", "grant_type": "client_credentials"}


@pytest.mark.parametrize(
    "name",
    [
        "token.response.user_or_refresh.json",
        "token.response.password_authtoken_company.json",
        "token.response.password_authtoken_with_refresh_expires_in.json",
        "token.response.client_credentials.json",
    ],
)
def test_every_token_fixture_parses(name):
    tokens = oauth.parse_token_response(load(name), NOW, "https://glz.api.concursolutions.com")
    assert tokens.access_expires_at == NOW + dt.timedelta(seconds=3600)  # "3600" and 3600 alike
    assert tokens.geolocation == "https://us.api.concursolutions.com"  # host casing normalised


def test_refresh_expires_in_is_an_epoch_and_optional_fields_are_optional():
    tokens = oauth.parse_token_response(load("token.response.password_authtoken_with_refresh_expires_in.json"), NOW, "x://y")
    assert tokens.refresh_expires_at == dt.datetime.fromtimestamp(1517039403, dt.UTC)
    assert tokens.id_token
    app = oauth.parse_token_response(load("token.response.client_credentials.json"), NOW, "https://x")
    assert app.refresh_token is None and app.id_token is None


def test_missing_refresh_token_keeps_previous_and_missing_geolocation_keeps_called_host():
    previous = oauth.parse_token_response(load("token.response.user_or_refresh.json"), NOW, "https://a")
    again = oauth.parse_token_response({"access_token": "new", "expires_in": 10}, NOW, "https://EU2.api.concursolutions.com/", previous)
    assert again.refresh_token == previous.refresh_token
    assert again.geolocation == "https://eu2.api.concursolutions.com"


def test_response_without_access_token_is_an_error():
    with pytest.raises(TokenError):
        oauth.parse_token_response({"expires_in": 3600}, NOW, "https://a")
    with pytest.raises(TokenError):
        oauth.parse_token_response({"access_token": "a", "expires_in": "soon"}, NOW, "https://a")


def test_secrets_stay_out_of_repr():
    tokens = oauth.Tokens(access_token="AT-SECRET", access_expires_at=NOW, geolocation="https://a", refresh_token="RT-SECRET", id_token="ID-SECRET")
    text = repr(tokens) + str(tokens)
    assert "SECRET" not in text and "https://a" in text


def test_code_16_is_user_lives_elsewhere_with_geolocation():
    body = reference("oauth", "token.error.user_lives_elsewhere_code16.json").read_bytes()
    error = oauth.token_error(400, body)
    assert isinstance(error, UserLivesElsewhere)
    assert error.geolocation == "https://us.api.concursolutions.com"


@pytest.mark.parametrize(
    "body,status",
    [
        (None, 400),  # the code-5 fixture
        (b'{"error":"invalid_grant","error_description":"bad refresh","code":108}', 400),
        (b'{"error":"invalid_grant","code":19}', 400),
        (b'{"error":"invalid_client","code":64}', 400),
        (b'{"code":"5"}', 400),
        (b"Forbidden", 403),  # company has not authorised the app
    ],
)
def test_permanent_token_errors_need_reconnect(body, status):
    if body is None:
        body = reference("oauth", "token.error.invalid_grant_code5.json").read_bytes()
    assert isinstance(oauth.token_error(status, body), NeedsReconnect)


@pytest.mark.parametrize("body,status", [(b"Service Unavailable", 503), (b"", 500), (b'{"error":"invalid_request","code":51}', 400)])
def test_other_token_errors_are_plain(body, status):
    error = oauth.token_error(status, body)
    assert type(error) is TokenError
    assert str(status) in str(error)
