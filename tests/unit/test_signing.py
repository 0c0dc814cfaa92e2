from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from shared.signing import InvalidSignature, new_secret, sign_headers, verify

BODY = '{"type":"INSERT"}'


def test_signed_body_verifies_with_our_helper_and_the_library():
    secret = new_secret()
    headers = sign_headers(secret, "evt_1", BODY)
    verify(secret, BODY.encode(), headers)
    assert Webhook(secret).verify(BODY, headers) == {"type": "INSERT"}


def test_tampered_body_is_refused():
    secret = new_secret()
    headers = sign_headers(secret, "evt_1", BODY)
    with pytest.raises(InvalidSignature):
        verify(secret, b'{"type":"DELETE"}', headers)


def test_other_secret_is_refused():
    headers = sign_headers(new_secret(), "evt_1", BODY)
    with pytest.raises(InvalidSignature):
        verify(new_secret(), BODY.encode(), headers)


def test_stale_timestamp_is_refused():
    secret = new_secret()
    headers = sign_headers(secret, "evt_1", BODY, at=datetime.now(tz=UTC) - timedelta(minutes=10))
    with pytest.raises(InvalidSignature, match="too old"):
        verify(secret, BODY.encode(), headers)


@pytest.mark.parametrize("signature", ["", "garbage", "v1,!!!notbase64", "v1"])
def test_malformed_signature_header_is_refused_not_crashed(signature):
    secret = new_secret()
    headers = {**sign_headers(secret, "evt_1", BODY), "webhook-signature": signature}
    with pytest.raises(InvalidSignature):
        verify(secret, BODY.encode(), headers)


def test_missing_headers_are_refused():
    with pytest.raises(InvalidSignature):
        verify(new_secret(), BODY.encode(), {})
