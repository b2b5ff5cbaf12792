"""The digest by email (agent.publish.email) against a real SMTP server (aiosmtpd) on 127.0.0.1: the message's parts
and headers, STARTTLS and implicit TLS with a self-signed certificate made here, AUTH LOGIN, several recipients,
retries after transient 4xx replies, and the failures that end in EmailError (exit code 11)."""
from __future__ import annotations

import email
import email.policy
import shutil
import socket
import ssl
import subprocess
from datetime import UTC, datetime
from email.utils import parseaddr, parsedate_to_datetime

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from agent.digest.daily_post import DailyPost, PostBlock
from agent.digest.record import DigestRecord, Entry, Other
from agent.errors import EmailError
from agent.publish.email import EmailSettings, send_digest_email

# implicit TLS needs auth_require_tls=False (aiosmtpd counts only STARTTLS as TLS) and warns about it
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
USER, PASSWORD = "digest-bot", "s3cret pass"
TO = ["reader@example.org", "second@example.net", "third@example.com"]
XSS = 'Steering <script>alert("x")</script> & "Other" Tricks'


class Recorder:
    """An SMTP handler that keeps what it receives and can answer like a busy or strict server."""

    def __init__(self):
        self.messages: list[dict] = []
        self.data_replies: list[str] = []  # replies to DATA before accepting ("451 ..." = try again later)
        self.rcpt_replies: dict[str, list[str]] = {}  # per recipient, replies before accepting
        self.rcpt_calls: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_calls.append(address)
        replies = self.rcpt_replies.get(address)
        if replies:
            return replies.pop(0) if len(replies) > 1 or not replies[0].startswith("5") else replies[0]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_replies:
            return self.data_replies.pop(0) if not self.data_replies[0].startswith("5") else self.data_replies[0]
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "raw": envelope.content,
                              "authenticated": bool(session.authenticated),
                              # TLS from STARTTLS (session.ssl) or from the first byte (an SSL transport)
                              "tls": session.ssl is not None
                              or server.transport.get_extra_info("ssl_object") is not None})
        return "250 OK queued"


MECHANISMS: list[str] = []


def _authenticator(server, session, envelope, mechanism, auth_data):
    MECHANISMS.append(mechanism)
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # handled=False: the server itself answers 535 on failure


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with the openssl command line tool."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(certificate):
    """start(security) -> (Recorder, port): a server on 127.0.0.1 requiring TLS and AUTH; stopped after the test."""
    cert, key = certificate
    started: list[Controller] = []

    def start(security: str = "starttls"):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        handler = Recorder()
        port = _free_port()
        # AUTH LOGIN only (smtplib would pick PLAIN when offered): the mechanism most relays expect
        common = dict(hostname="127.0.0.1", port=port, authenticator=_authenticator, auth_required=True,
                      auth_exclude_mechanism=["PLAIN"])
        if security == "tls":
            ctrl = Controller(handler, ssl_context=ctx, auth_require_tls=False, **common)
        else:
            ctrl = Controller(handler, tls_context=ctx, require_starttls=True, **common)
        ctrl.start()
        started.append(ctrl)
        return handler, port

    yield start
    for ctrl in started:
        ctrl.stop()


def settings_for(port: int, certificate, **kw) -> EmailSettings:
    values = dict(host="127.0.0.1", port=port, security="starttls", username=USER, password=PASSWORD,
                  sender="dissect@digest.example", recipients=TO[:2], ca_file=str(certificate[0]), timeout_s=10,
                  retries=2, backoff_s=1.5)
    return EmailSettings(**{**values, **kw})


def record(dissected: int = 2, failed: int = 0, model: str = "gpt-test") -> DigestRecord:
    papers = [Entry(id=f"2601.1000{i}", title=XSS if i == 0 else f"Paper number {i}",
                    url=f"https://arxiv.org/abs/2601.1000{i}", score=0.9 - i / 10, status="dissected",
                    authors=["A. Author", "B. Author"], report=f"2026-01-19/2601-1000{i}.md",
                    gist="It claims <b>bold</b> things.", verdict="Overstated.", fallacy="hasty generalization",
                    grounding=1.0) for i in range(dissected)]
    fails = [Entry(id="2601.20000", title="Broken", url="javascript:alert(1)", score=0.5, status="failed",
                   error="model timed out")] * failed
    return DigestRecord(date="2026-01-19", window_start="2026-01-15", window_end="2026-01-16",
                        generated_at=datetime(2026, 1, 19, 6, 30, tzinfo=UTC), model=model, candidates=40,
                        dissected=papers, failed=fails,
                        others=[Other(id="2601.3", title="x", url="https://arxiv.org/abs/2601.3", score=0.1,
                                      why="below the bar")])


POST = DailyPost(paper_id="2601.10000", title=XSS, url="https://arxiv.org/abs/2601.10000", source_kind="arxiv",
                 relevance=0.92, blocks=[PostBlock(kind="text", text="Today I read a paper about steering."),
                                         PostBlock(kind="quote", text="We steer <i>every</i> model.", status="verified",
                                                   role="its claim")],
                 closing=f"born from {XSS} (arXiv, 0.92)", words=9, phrased_by_model=True, model="m", backend="b",
                 demo_model=False, generated_at=datetime(2026, 1, 19, tzinfo=UTC))


def parts(raw: bytes):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    subtypes = [p.get_content_type() for p in msg.get_payload()]
    assert subtypes == ["text/plain", "text/html"]  # the richer part last
    text, html = (p.get_payload(decode=True).decode(p.get_content_charset()) for p in msg.get_payload())
    return msg, text, html


def test_starttls_login_and_a_multipart_message_to_several_recipients(smtp, certificate):
    server, port = smtp("starttls")
    cfg = settings_for(port, certificate)
    sleeps: list[float] = []
    out = send_digest_email(cfg, record(), post=POST, site_url="https://digest.example/r/", sleep=sleeps.append)
    assert out.sent and out.recipients == TO[:2] and out.attempts == 1 and sleeps == []
    [got] = server.messages
    assert got["tls"] and got["authenticated"] and MECHANISMS[-1] == "LOGIN"
    assert got["from"] == "dissect@digest.example" and got["to"] == TO[:2]
    msg, text, html = parts(got["raw"])
    assert parseaddr(msg["From"])[1] == "dissect@digest.example"
    assert [parseaddr(a.strip())[1] for a in msg["To"].split(",")] == TO[:2]
    assert msg["Subject"].startswith("Alignment digest 2026-01-19: 2 papers: Steering")
    assert parsedate_to_datetime(msg["Date"]).tzinfo is not None
    assert msg["Message-ID"] == out.message_id and msg["Message-ID"].endswith("@digest.example>")
    # the text part: the post, each paper with its links and the command to vote
    assert "TODAY'S POST" in text and f"-- born from {XSS} (arXiv, 0.92)" in text
    assert "https://digest.example/r/site/reports/2601-10000.html" in text
    assert "dissect feedback 2601.10001 up|down|hide" in text
    # the HTML part: untrusted text escaped, links only http(s), no script anywhere
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>bold</b>" not in html
    assert "<i>every</i>" not in html and "&lt;i&gt;every&lt;/i&gt;" in html
    assert 'href="https://arxiv.org/abs/2601.10000"' in html
    assert 'href="https://digest.example/r/site/reports/2601-10001.html"' in html


def test_implicit_tls_retries_after_a_transient_reply(smtp, certificate):
    server, port = smtp("tls")
    server.data_replies = ["451 4.3.0 Try again later"]
    sleeps: list[float] = []
    cfg = settings_for(port, certificate, security="tls")
    out = send_digest_email(cfg, record(failed=1), sleep=sleeps.append)
    assert out.sent and out.attempts == 2 and sleeps == [1.5]
    [got] = server.messages  # delivered once, after the retry
    assert got["tls"] and got["to"] == TO[:2]
    _, text, html = parts(got["raw"])
    assert "Could not be dissected" in text and "javascript:" not in html


def test_a_recipient_deferred_is_retried_alone_and_one_refused_is_reported(smtp, certificate):
    server, port = smtp("starttls")
    server.rcpt_replies = {TO[1]: ["450 4.2.1 Mailbox busy"], TO[2]: ["550 5.1.1 No such user"]}
    sleeps: list[float] = []
    with pytest.raises(EmailError) as err:
        send_digest_email(settings_for(port, certificate, recipients=TO), record(), sleep=sleeps.append)
    assert err.value.exit_code == 11
    line = str(err.value)
    assert "\n" not in line and "reached 2 of 3" in line and TO[2] in line and "550" in line
    delivered = [m["to"] for m in server.messages]
    assert delivered == [[TO[0]], [TO[1]]]  # the deferred one got its copy on the retry, nobody got two
    assert sleeps == [1.5]


@pytest.mark.parametrize("change, expected", [
    ({"password": "wrong"}, "login refused (535)"),
    ({"ca_file": ""}, "certificate did not verify"),
])
def test_permanent_failures_are_not_retried(smtp, certificate, change, expected):
    server, port = smtp("starttls")
    sleeps: list[float] = []
    with pytest.raises(EmailError, match="could not be sent") as err:
        send_digest_email(settings_for(port, certificate, **change), record(), sleep=sleeps.append)
    assert expected in str(err.value) and "after 1 try" in str(err.value)
    assert sleeps == [] and server.messages == []


def test_a_server_that_keeps_refusing_ends_in_one_line(smtp, certificate):
    server, port = smtp("starttls")
    server.data_replies = ["554 5.6.0 Message rejected"]
    with pytest.raises(EmailError) as err:
        send_digest_email(settings_for(port, certificate), record(), sleep=lambda s: None)
    assert "554" in str(err.value) and "\n" not in str(err.value) and server.messages == []


def test_an_unreachable_server_is_retried_with_backoff_then_reported(certificate):
    sleeps: list[float] = []
    cfg = settings_for(_free_port(), certificate, retries=3, backoff_s=2.0, timeout_s=2)
    with pytest.raises(EmailError, match="after 4 tries"):
        send_digest_email(cfg, record(), sleep=sleeps.append)
    assert sleeps == [2.0, 4.0, 8.0]


def test_nothing_new_is_sent_only_when_configured(smtp, certificate):
    server, port = smtp("starttls")
    empty = record(dissected=0)
    out = send_digest_email(settings_for(port, certificate), empty)
    assert not out.sent and "nothing new" in out.reason and server.messages == []
    out = send_digest_email(settings_for(port, certificate, send_empty=True), empty)
    assert out.sent
    msg, text, _ = parts(server.messages[0]["raw"])
    assert msg["Subject"] == "Alignment digest 2026-01-19: nothing new" and "Nothing new today." in text


def test_demo_model_output_is_labelled(smtp, certificate):
    server, port = smtp("starttls")
    send_digest_email(settings_for(port, certificate), record(model="SmolLM2-135M-Instruct.Q4_1"))
    msg, text, html = parts(server.messages[0]["raw"])
    assert msg["Subject"].startswith("[demo model] ") and "DEMO MODEL" in text and "Demo model." in html


def test_email_settings_are_validated():
    assert not EmailSettings().enabled
    cfg = EmailSettings(host="smtp.example.org", sender="a@example.org", recipients="b@example.org, c@example.org")
    assert cfg.recipients == ["b@example.org", "c@example.org"] and cfg.effective_port == 587
    assert EmailSettings(host="h", security="tls", sender="a@b", recipients=["c@d"]).effective_port == 465
    for bad in ({"host": "h", "recipients": ["c@d"]},  # no sender
                {"host": "h", "sender": "a@b"},  # no recipient
                {"host": "h", "sender": "a@b", "recipients": ["not an address"]},
                {"host": "h", "sender": "a@b", "recipients": ["c@d"], "security": "none", "password": "x"},
                {"host": "h\r\nRCPT TO:<x@y>", "sender": "a@b", "recipients": ["c@d"]}):
        with pytest.raises(ValueError):
            EmailSettings(**bad)
