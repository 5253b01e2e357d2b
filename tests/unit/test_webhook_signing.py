"""Standard Webhooks signing: our signatures verify, also with the independent reference library."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook

from sorajobs.signing import (
    WEBHOOK_TOLERANCE_SECONDS,
    WebhookSecret,
    WebhookSignatureError,
    parse_webhook_secrets,
    sign,
    verify,
)

KEY = bytes(range(32))
SECRET = WebhookSecret(KEY)
OLD_SECRET = WebhookSecret(b"the previous secret, still valid")
TS = 1_795_000_000
BODY = b'{"type":"job.completed","data":{"id":"job_1"}}'


def signed(*secrets: WebhookSecret, body: bytes = BODY, timestamp: int = TS) -> dict[str, str]:
    return sign(secrets or (SECRET,), msg_id="msg_1", timestamp=timestamp, body=body)


def reason_of(headers: dict[str, str], *, body: bytes = BODY, now: float = TS, secrets=(SECRET,)) -> str:
    with pytest.raises(WebhookSignatureError) as caught:
        verify(secrets, body=body, headers=headers, now=now)
    return caught.value.reason


# Signing and verifying


def test_sign_returns_the_three_standard_headers():
    headers = signed()

    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(TS)
    version, signature = headers["webhook-signature"].split(",")
    assert version == "v1"
    assert len(base64.b64decode(signature)) == 32


def test_a_signed_message_verifies_and_returns_its_id():
    assert verify([SECRET], body=BODY, headers=signed(), now=TS) == "msg_1"


def test_header_names_are_matched_case_insensitively():
    headers = {name.title(): value for name, value in signed().items()}

    assert verify([SECRET], body=BODY, headers=headers, now=TS) == "msg_1"


def test_the_reference_library_verifies_our_signature():
    now = int(time.time())  # the reference library checks the timestamp against the real clock
    headers = sign([SECRET], msg_id="msg_live", timestamp=now, body=BODY)

    Webhook(SECRET.as_whsec()).verify(BODY, headers, json_parse=False)


def test_our_signature_equals_the_reference_signature_for_a_fixed_timestamp():
    reference = Webhook(SECRET.as_whsec()).sign("msg_1", datetime.fromtimestamp(TS, tz=UTC), BODY.decode())

    assert signed()["webhook-signature"] == reference


def test_we_verify_a_signature_made_by_the_reference_library():
    reference = Webhook(SECRET.as_whsec()).sign("msg_1", datetime.fromtimestamp(TS, tz=UTC), BODY.decode())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(TS), "webhook-signature": reference}

    assert verify([SECRET], body=BODY, headers=headers, now=TS) == "msg_1"


def test_a_raw_secret_signs_as_its_whsec_form_for_the_reference_library():
    secret = WebhookSecret.parse("r4w-Secret/From+SecretsManager!")
    now = int(time.time())
    headers = sign([secret], msg_id="msg_raw", timestamp=now, body=BODY)

    Webhook(secret.as_whsec()).verify(BODY, headers, json_parse=False)


def test_two_secrets_give_two_signatures_in_order():
    headers = signed(SECRET, OLD_SECRET)

    entries = headers["webhook-signature"].split(" ")
    assert entries == [signed(SECRET)["webhook-signature"], signed(OLD_SECRET)["webhook-signature"]]


def test_a_receiver_with_only_the_old_secret_still_verifies_during_a_rotation():
    headers = signed(SECRET, OLD_SECRET)

    assert verify([OLD_SECRET], body=BODY, headers=headers, now=TS) == "msg_1"


def test_the_reference_library_with_only_the_old_secret_verifies_during_a_rotation():
    headers = sign([SECRET, OLD_SECRET], msg_id="msg_rot", timestamp=int(time.time()), body=BODY)

    Webhook(OLD_SECRET.as_whsec()).verify(BODY, headers, json_parse=False)


def test_a_verifier_holding_both_secrets_accepts_a_signature_by_either():
    both = (SECRET, OLD_SECRET)

    assert verify(both, body=BODY, headers=signed(OLD_SECRET), now=TS) == "msg_1"
    assert verify(both, body=BODY, headers=signed(SECRET), now=TS) == "msg_1"


def test_timestamps_at_the_edge_of_the_tolerance_are_accepted():
    assert verify([SECRET], body=BODY, headers=signed(), now=TS + WEBHOOK_TOLERANCE_SECONDS) == "msg_1"
    assert verify([SECRET], body=BODY, headers=signed(), now=TS - WEBHOOK_TOLERANCE_SECONDS) == "msg_1"


def test_unknown_versions_and_malformed_entries_are_ignored():
    good = signed()["webhook-signature"]
    headers = signed() | {"webhook-signature": f"v2,abc nonsense v1 v1,%%%notbase64 ,,, {good}"}

    assert verify([SECRET], body=BODY, headers=headers, now=TS) == "msg_1"


def test_sign_refuses_no_secret_and_an_empty_id():
    with pytest.raises(ValueError, match="at least one"):
        sign([], msg_id="msg_1", timestamp=TS, body=BODY)
    with pytest.raises(ValueError, match="webhook id"):
        sign([SECRET], msg_id="", timestamp=TS, body=BODY)


# Failures, each with its reason


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_missing_headers(missing):
    headers = {name: value for name, value in signed().items() if name != missing}

    assert reason_of(headers) == "missing_headers"


def test_an_empty_header_is_missing_headers():
    assert reason_of(signed() | {"webhook-id": ""}) == "missing_headers"


FULLWIDTH_DIGITS = "\uff11\uff12\uff13"


@pytest.mark.parametrize("timestamp", ["abc", "1795000000.5", "-1795000000", " 1795000000", "1e9", FULLWIDTH_DIGITS])
def test_a_timestamp_that_is_not_an_integer_is_bad_timestamp(timestamp):
    assert reason_of(signed() | {"webhook-timestamp": timestamp}) == "bad_timestamp"


def test_a_message_too_old_is_outside_the_tolerance():
    assert reason_of(signed(), now=TS + WEBHOOK_TOLERANCE_SECONDS + 1) == "timestamp_outside_tolerance"


def test_a_message_too_new_is_outside_the_tolerance():
    assert reason_of(signed(), now=TS - WEBHOOK_TOLERANCE_SECONDS - 1) == "timestamp_outside_tolerance"


def test_a_tampered_body_matches_no_signature():
    assert reason_of(signed(), body=BODY.replace(b"completed", b"failed")) == "no_matching_signature"


def test_a_changed_timestamp_matches_no_signature():
    assert reason_of(signed() | {"webhook-timestamp": str(TS + 1)}) == "no_matching_signature"


def test_a_wrong_secret_matches_no_signature():
    assert reason_of(signed(), secrets=(WebhookSecret(b"someone else's secret"),)) == "no_matching_signature"


def test_only_unknown_versions_match_no_signature():
    signature = signed()["webhook-signature"].replace("v1,", "v1a,")

    assert reason_of(signed() | {"webhook-signature": signature}) == "no_matching_signature"


def test_the_error_carries_its_reason_as_an_attribute():
    error = WebhookSignatureError("bad_timestamp")

    assert error.reason == "bad_timestamp"
    assert isinstance(error, Exception)


# Parsing secrets


def test_a_whsec_secret_parses_with_padding():
    encoded = base64.b64encode(b"0123456789abcdef012345").decode()  # 22 bytes: base64 ends in "="
    assert encoded.endswith("=")

    assert WebhookSecret.parse("whsec_" + encoded).key == b"0123456789abcdef012345"


def test_a_whsec_secret_parses_without_padding():
    encoded = base64.b64encode(b"0123456789abcdef012345").decode().rstrip("=")

    assert WebhookSecret.parse("whsec_" + encoded).key == b"0123456789abcdef012345"


def test_a_whsec_secret_reads_the_same_key_as_the_reference_library():
    whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    headers = {"webhook-id": "m", "webhook-timestamp": str(TS)}
    reference = Webhook(whsec).sign("m", datetime.fromtimestamp(TS, tz=UTC), "x")

    assert verify([WebhookSecret.parse(whsec)], body=b"x", headers=headers | {"webhook-signature": reference}, now=TS)


def test_a_value_without_the_prefix_is_the_raw_key():
    assert WebhookSecret.parse("Gx7!q@secret-from-secretsmanager").key == b"Gx7!q@secret-from-secretsmanager"


def test_as_whsec_round_trips():
    secret = WebhookSecret.parse("raw-value")

    assert secret.as_whsec() == "whsec_" + base64.b64encode(b"raw-value").decode()
    assert WebhookSecret.parse(secret.as_whsec()) == secret


@pytest.mark.parametrize("text", ["", "whsec_", "whsec_==", "whsec_not*base64", "whsec_abcde", "two words"])
def test_an_empty_or_malformed_secret_is_refused(text):
    with pytest.raises(ValueError):
        WebhookSecret.parse(text)


def test_an_empty_key_is_refused():
    with pytest.raises(ValueError, match="empty"):
        WebhookSecret(b"")


def test_the_key_stays_out_of_the_repr():
    assert "hunter2" not in repr(WebhookSecret.parse("hunter2"))


def test_a_stored_value_with_one_secret_parses():
    assert parse_webhook_secrets(SECRET.as_whsec()) == (SECRET,)


def test_a_stored_value_with_two_secrets_parses_newest_first():
    value = f"{SECRET.as_whsec()}\n{OLD_SECRET.as_whsec()}\n"

    assert parse_webhook_secrets(value) == (SECRET, OLD_SECRET)


def test_a_stored_value_may_mix_whsec_and_raw_secrets():
    assert parse_webhook_secrets(f"new-raw-value {OLD_SECRET.as_whsec()}") == (
        WebhookSecret(b"new-raw-value"),
        OLD_SECRET,
    )


@pytest.mark.parametrize("value", ["", "   \n\t "])
def test_a_stored_value_with_no_secret_is_refused(value):
    with pytest.raises(ValueError, match="no secret"):
        parse_webhook_secrets(value)


def test_a_stored_value_with_three_secrets_is_refused():
    with pytest.raises(ValueError, match="holds 3 secrets; at most 2"):
        parse_webhook_secrets("one two three")
