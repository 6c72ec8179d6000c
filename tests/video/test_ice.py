"""The STUN and TURN servers a browser is given for a call: TURN credentials signed the
way coturn checks them, short-lived, for one person; settings that refuse what browsers
could not use, and keep the shared secret out of repr; and a real coturn that relays
for fresh credentials, refuses wrong or expired ones, and keeps a relay made in time
past its credentials' expiry (as docs/video.md says)."""

from __future__ import annotations

import base64
import dataclasses
import hmac
import re
import socket
import ssl
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mor.config import ConfigError, IceSettings, Settings
from mor.services.video.ice import IceServer, ice_servers
from tests.video.coturn import (
    SECRET,
    Coturn,
    coturn_on_loopback,
    free_port,
    running_turnserver,
    write_secret,
)
from tests.video.turn_client import TurnClient


def coturn_password(secret: str, username: str) -> str:
    """The password as coturn derives it under use-auth-secret (README.turnserver,
    "TURN REST API"): base64(HMAC-SHA1(key = secret, message = username))."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), "sha1").digest()
                            ).decode()


def turn_settings(ttl: int = 3600) -> IceSettings:
    return IceSettings(urls=("stun:stun.example.org:3478", "turn:turn.example.org:3478",
                             "turns:turn.example.org:5349?transport=tcp"),
                       turn_secret=SECRET, turn_ttl=ttl)


# --- credentials ---------------------------------------------------------------------

def test_turn_credentials_verify_with_the_hmac_coturn_computes() -> None:
    _stun, turn = ice_servers(turn_settings(), "Practitioner-7", now=1_800_000_000.75)
    assert turn.urls == ("turn:turn.example.org:3478",
                         "turns:turn.example.org:5349?transport=tcp")
    assert turn.username == "1800003600:Practitioner-7"
    assert turn.credential == coturn_password(SECRET, "1800003600:Practitioner-7")
    assert turn.credential != coturn_password("another secret", turn.username)


def test_expiry_moves_with_now_and_ttl() -> None:
    def expiry(ttl: int, now: float) -> int:
        username = ice_servers(turn_settings(ttl), "Patient-1", now=now)[-1].username
        assert username is not None
        return int(username.split(":", 1)[0])

    assert expiry(3600, 1_000_000) == 1_003_600
    assert expiry(3600, 1_000_500) == 1_004_100
    assert expiry(60, 1_000_500) == 1_000_560


def test_without_now_the_credentials_start_from_the_clock() -> None:
    before = int(time.time())
    username = ice_servers(turn_settings(600), "Patient-1")[-1].username
    assert username is not None
    assert before + 600 <= int(username.split(":", 1)[0]) <= int(time.time()) + 600


def test_each_person_gets_their_own_credentials() -> None:
    doctor = ice_servers(turn_settings(), "Practitioner-7", now=1_800_000_000)[-1]
    patient = ice_servers(turn_settings(), "Patient-12", now=1_800_000_000)[-1]
    assert patient.username == "1800003600:Patient-12"
    assert patient.credential != doctor.credential


def test_stun_servers_get_no_credentials() -> None:
    stun = ice_servers(turn_settings(), "Patient-1", now=1_800_000_000)[0]
    assert stun == IceServer(urls=("stun:stun.example.org:3478",))
    assert stun.as_json() == {"urls": ["stun:stun.example.org:3478"]}
    stun_only = IceSettings(urls=("stun:stun.example.org",))
    assert [server.as_json() for server in ice_servers(stun_only, "Patient-1")] == [
        {"urls": ["stun:stun.example.org"]}]


def test_as_json_is_the_rtc_ice_server_dictionary() -> None:
    turn = ice_servers(turn_settings(), "Patient-1", now=1_800_000_000)[-1]
    assert turn.as_json() == {
        "urls": ["turn:turn.example.org:3478", "turns:turn.example.org:5349?transport=tcp"],
        "username": "1800003600:Patient-1",
        "credential": coturn_password(SECRET, "1800003600:Patient-1"),
    }


def test_no_servers_configured_means_none_given() -> None:
    assert Settings.from_env({}).ice == IceSettings()
    assert ice_servers(Settings.from_env({}).ice, "Patient-1") == []


@pytest.mark.parametrize("user", ["", "Somchai Jaidee", "o'neil", 'a"b', "a\\b"])
def test_a_user_coturn_would_refuse_is_an_error(user: str) -> None:
    with pytest.raises(ValueError, match="TURN user"):
        ice_servers(turn_settings(), user)


# --- settings ------------------------------------------------------------------------

@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "turn-secret"
    path.write_text(f"  {SECRET}\n")
    return path


def test_settings_read_urls_secret_and_ttl(secret_file: Path) -> None:
    settings = Settings.from_env({
        "MOR_ICE_URLS": " stun:stun.example.org , turn:[2001:db8::5]:3478?transport=udp,"
                        "turns:turn.example.org:5349,",
        "MOR_TURN_SECRET_FILE": str(secret_file), "MOR_TURN_TTL": "900"})
    assert settings.ice == IceSettings(
        urls=("stun:stun.example.org", "turn:[2001:db8::5]:3478?transport=udp",
              "turns:turn.example.org:5349"),
        turn_secret=SECRET, turn_ttl=900)


def test_relay_only_is_off_unless_asked(secret_file: Path) -> None:
    urls = {"MOR_ICE_URLS": "turn:turn.example.org", "MOR_TURN_SECRET_FILE": str(secret_file)}
    assert not Settings.from_env(urls).ice.relay_only
    assert Settings.from_env({**urls, "MOR_ICE_RELAY_ONLY": "1"}).ice.relay_only


def test_relay_only_without_a_turn_server_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"MOR_ICE_RELAY_ONLY=1.*turn: or turns: URL"):
        Settings.from_env({"MOR_ICE_URLS": "stun:stun.example.org",
                           "MOR_ICE_RELAY_ONLY": "1"})


def test_the_secret_is_not_in_repr(secret_file: Path) -> None:
    settings = Settings.from_env({"MOR_ICE_URLS": "turn:turn.example.org",
                                  "MOR_TURN_SECRET_FILE": str(secret_file)})
    assert settings.ice.turn_secret == SECRET
    for shown in (repr(settings), str(settings), repr(settings.ice), f"{settings}"):
        assert SECRET not in shown
    assert "turn:turn.example.org" in repr(settings)


@pytest.mark.parametrize("url", [
    "http://turn.example.org", "turn://turn.example.org", "stuns:stun.example.org",
    "stun:stun.example.org?transport=udp", "turn:turn.example.org:99999",
    "turn:turn.example.org?transport=sctp", "turn:", "turn.example.org:3478",
    "turn:user@turn.example.org"])
def test_a_url_browsers_cannot_use_is_refused_by_name(url: str, secret_file: Path) -> None:
    with pytest.raises(ConfigError, match="MOR_ICE_URLS") as refused:
        Settings.from_env({"MOR_ICE_URLS": f"stun:stun.example.org,{url}",
                           "MOR_TURN_SECRET_FILE": str(secret_file)})
    assert repr(url) in str(refused.value)


def test_a_missing_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "turn-secret"
    with pytest.raises(ConfigError, match="MOR_TURN_SECRET_FILE") as refused:
        Settings.from_env({"MOR_ICE_URLS": "turn:turn.example.org",
                           "MOR_TURN_SECRET_FILE": str(missing)})
    assert str(missing) in str(refused.value)
    assert "static-auth-secret" in str(refused.value)


def test_an_empty_secret_file_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "turn-secret"
    empty.write_text(" \n")
    with pytest.raises(ConfigError, match=f"MOR_TURN_SECRET_FILE {empty} is empty"):
        Settings.from_env({"MOR_ICE_URLS": "turns:turn.example.org:5349",
                           "MOR_TURN_SECRET_FILE": str(empty)})


def test_turn_without_a_secret_file_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="MOR_TURN_SECRET_FILE must name the file"):
        Settings.from_env({"MOR_ICE_URLS": "turn:turn.example.org"})


def test_stun_alone_needs_no_secret() -> None:
    settings = Settings.from_env({"MOR_ICE_URLS": "stun:stun.example.org"})
    assert settings.ice.turn_secret is None


@pytest.mark.parametrize("ttl", ["0", "-5", "an hour"])
def test_a_ttl_that_is_not_a_positive_number_is_refused(ttl: str) -> None:
    with pytest.raises(ConfigError, match="MOR_TURN_TTL"):
        Settings.from_env({"MOR_TURN_TTL": ttl})


# --- a real coturn -------------------------------------------------------------------

@pytest.fixture(scope="module")
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    with coturn_on_loopback(tmp_path_factory.mktemp("coturn")) as server:
        yield server


@pytest.fixture
def client(coturn: Coturn) -> Iterator[TurnClient]:
    made = TurnClient(coturn.address)
    yield made
    made.close()


def _turn_credentials(ice: IceSettings, user: str, now: float | None = None) -> tuple[str, str]:
    (turn,) = ice_servers(ice, user, now=now)
    assert turn.username is not None and turn.credential is not None
    return turn.username, turn.credential


def test_coturn_relays_for_fresh_credentials(coturn: Coturn, client: TurnClient) -> None:
    response = client.allocate(*_turn_credentials(coturn.ice, "Practitioner-7"))
    assert response.success, f"Allocate refused ({response.error_code}). {coturn.log_tail()}"
    relayed = response.relayed_address
    assert relayed is not None and relayed[0] == "127.0.0.1"


def test_coturn_refuses_a_wrong_credential(coturn: Coturn, client: TurnClient) -> None:
    username, _ = _turn_credentials(coturn.ice, "Practitioner-7")
    response = client.allocate(username, coturn_password("not the secret", username))
    assert not response.success
    assert response.error_code == 401


def test_coturn_refuses_an_expired_username(coturn: Coturn, client: TurnClient) -> None:
    an_hour_ago = time.time() - coturn.ice.turn_ttl - 3600
    response = client.allocate(*_turn_credentials(coturn.ice, "Patient-12", now=an_hour_ago))
    assert not response.success
    assert response.error_code == 401


def test_coturn_keeps_a_relay_made_in_time_past_the_expiry(coturn: Coturn) -> None:
    """coturn checks the expiry when a relay is made, not when it is refreshed: a call
    outlasting MOR_TURN_TTL keeps its relay, and only a new one needs new credentials."""
    short = dataclasses.replace(coturn.ice, turn_ttl=1)
    username, password = _turn_credentials(short, "Patient-12")
    expiry = int(username.split(":", 1)[0])
    in_call = TurnClient(coturn.address)
    late = TurnClient(coturn.address)
    try:
        made = in_call.allocate(username, password)
        assert made.success, f"Allocate refused ({made.error_code}). {coturn.log_tail()}"
        # coturn refuses once its clock, in whole seconds, is past the expiry.
        time.sleep(max(0.0, expiry + 1.2 - time.time()))
        refreshed = in_call.refresh(lifetime=600)
        assert refreshed.success, f"Refresh refused ({refreshed.error_code}). " \
                                  f"{coturn.log_tail()}"
        assert late.allocate(username, password).error_code == 401
    finally:
        in_call.close()
        late.close()



# --- the sample /etc/turnserver.conf of docs/video.md -------------------------------

DOCS: Final = Path(__file__).parents[2] / "docs" / "video.md"


def _sample_turnserver_conf() -> str:
    text = DOCS.read_text()
    start = text.index("```ini\n", text.index("A sample `/etc/turnserver.conf`")) + 7
    return text[start:text.index("```", start)]


def _self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5))
                   .not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]),
                                  critical=False)
                   .sign(key, hashes.SHA256()))
    cert, pkey = folder / "fullchain.pem", folder / "privkey.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    pkey.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert, pkey


def test_the_documented_turnserver_conf_relays_only_to_the_internet(
        tmp_path: Path) -> None:
    """The sample, moved to 127.0.0.1 and free ports with a test certificate, runs on
    Debian's coturn: it relays for mor's credentials, serves TLS with the certificate,
    and refuses to relay to the city's private addresses."""
    port, tls_port = free_port(), free_port()
    cert, pkey = _self_signed(tmp_path, "turn.city.example")
    conf = _sample_turnserver_conf()
    for documented, here in [
            ("203.0.113.10", "127.0.0.1"), ("listening-port=3478", f"listening-port={port}"),
            ("tls-listening-port=5349", f"tls-listening-port={tls_port}"),
            ("/etc/coturn/certs/turn.city.example.fullchain.pem", str(cert)),
            ("/etc/coturn/certs/turn.city.example.privkey.pem", str(pkey))]:
        assert documented in conf
        conf = conf.replace(documented, here)
    conf = re.sub(r"(?m)^static-auth-secret=.*$", f"static-auth-secret={SECRET}", conf)
    conf = re.sub(r"(?m)^syslog$", "log-file=stdout", conf)
    (tmp_path / "turnserver.conf").write_text(conf)
    ice = Settings.from_env({"MOR_ICE_URLS": f"turn:127.0.0.1:{port}",
                             "MOR_TURN_SECRET_FILE": str(write_secret(tmp_path))}).ice

    with running_turnserver(["-c", str(tmp_path / "turnserver.conf")], tmp_path,
                            ("127.0.0.1", port), ice) as server:
        client = TurnClient(server.address)
        try:
            made = client.allocate(*_turn_credentials(ice, "Patient-12"))
            assert made.success, f"Allocate refused ({made.error_code}). {server.log_tail()}"
            assert client.create_permission("198.51.100.7").success
            for private in ("10.1.2.3", "172.20.0.9", "192.168.1.20", "100.64.0.1",
                            "169.254.1.1", "127.0.0.1"):
                assert client.create_permission(private).error_code == 403, private
        finally:
            client.close()

        context = ssl.create_default_context(cafile=str(cert))
        with socket.create_connection(("127.0.0.1", tls_port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname="turn.city.example") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
