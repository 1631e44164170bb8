"""One secret, kept apart from the database, seals provider credentials and signs links; it can
be rotated without losing either."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from herald.database import Database
from herald.messaging.schemas import MessagingSettingsIn
from herald.messaging.setup import put_messaging_settings
from herald.messaging.unsubscribe import Links
from herald.migrate import upgrade
from herald.organizations.service import create_organization
from herald.outbound import Outbound
from herald.secrets import (
    ENCRYPTED_PREFIX,
    Envelope,
    SealBroken,
    SecretKeyMissing,
    SecretKeys,
    derive,
)
from tests.support import ROOT, TEST_SECRET

OLD, NEW = SecretKeys("old-secret"), SecretKeys("new-secret", ("old-secret",))


@pytest.mark.fast
def test_a_credential_is_sealed_and_opens_only_with_its_secret() -> None:
    sealed = Envelope(OLD).seal("SG.real-key")
    assert sealed.startswith(ENCRYPTED_PREFIX) and "SG.real-key" not in sealed
    assert Envelope(OLD).seal("SG.real-key") != sealed  # a data key and nonce of its own
    assert Envelope(OLD).open(sealed) == "SG.real-key"
    with pytest.raises(SecretKeyMissing):
        Envelope(SecretKeys("someone-else")).open(sealed)
    tampered = Envelope(OLD).seal("x")[:-8] + sealed[-8:]
    with pytest.raises(SealBroken):
        Envelope(OLD).open(tampered)


@pytest.mark.fast
def test_rotation_rewraps_under_the_new_secret_and_the_old_one_can_go() -> None:
    sealed = Envelope(OLD).seal("twilio-token")
    assert Envelope(NEW).open(sealed) == "twilio-token"  # the old secret is still listed
    assert not Envelope(NEW).is_current(sealed)
    resealed = Envelope(NEW).rewrap(sealed)
    assert Envelope(NEW).is_current(resealed)
    assert Envelope(SecretKeys("new-secret")).open(resealed) == "twilio-token"
    # A value stored before encryption came in is read as it is, and sealed by the rotation.
    assert Envelope(NEW).open("plain-token") == "plain-token"
    assert Envelope(NEW).open(Envelope(NEW).rewrap("plain-token")) == "plain-token"


@pytest.mark.fast
def test_each_purpose_has_its_own_key() -> None:
    assert derive("s", "links") != derive("s", "credentials") != b"s"


@pytest.mark.fast
def test_links_sent_before_a_rotation_open_during_its_grace_period() -> None:
    org, customer = uuid.uuid4(), uuid.uuid4()
    before = Links("https://h.example", "old-secret")
    token = before.unsubscribe_token(org, customer)
    during = Links("https://h.example", "new-secret", ("old-secret",))
    after = Links("https://h.example", "new-secret")
    assert during.read_unsubscribe_token(org, token) == customer
    assert after.read_unsubscribe_token(org, token) is None
    assert after.read_unsubscribe_token(org, during.unsubscribe_token(org, customer)) == customer


@pytest.mark.slow
def test_herald_secrets_rotate_reseals_every_credential_under_the_new_secret(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'herald.db'}"
    upgrade(url)
    db = Database(url)
    with db.system_session() as session:
        org, _ = create_organization(session, "Rotating Shop")
    with db.session(org.id) as session:  # sealed under the tests' secret (conftest)
        put_messaging_settings(
            session,
            MessagingSettingsIn(email_from="a@shop.example", sendgrid_api_key="SG.kept-secret"),
            Outbound(),
        )
    env = {
        **os.environ,
        "HERALD_DATABASE_URL": url,
        "HERALD_SECRET_KEY": "the-new-secret",
        "HERALD_PREVIOUS_SECRET_KEYS": TEST_SECRET,
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli", "secrets", "rotate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "1 credential(s)" in done.stdout
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT sendgrid_api_key FROM messaging_settings")).scalar_one()
    assert "SG.kept-secret" not in stored
    assert Envelope(SecretKeys("the-new-secret")).open(stored) == "SG.kept-secret"
    with pytest.raises(SecretKeyMissing):
        Envelope(SecretKeys(TEST_SECRET)).open(stored)
    db.dispose()
