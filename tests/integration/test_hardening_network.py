"""Hardening of the one HTTP GET (issue 9, items 2 and 8): redirects and feed links never lead into private space,
a name is resolved once and connected to at the checked address (no DNS rebinding), cloud metadata is never
fetched, and a request has a total deadline however slowly the server sends.

Only loopback is ever connected to: 127.0.0.1 is the user's own server, 127.0.0.2 "another internal host" holding
secrets; a patched resolver gives names their addresses."""
from __future__ import annotations

import socket

import pytest

from agent.corpus.ingest import ingest
from agent.errors import FetchError
from agent.settings import Settings
from agent.sources import http
from tests.support.hostile_server import HostileServer, PatchedResolver

SECRET = "<html><body><p>aws_secret_access_key = hunter2</p></body></html>"


def essay(title: str) -> str:
    paras = "".join(f"<p>Paragraph {i} of an essay about oversight. It argues at some length that oversight "
                    "deserves careful study, because the evidence so far is thin and often overstated.</p>"
                    for i in range(5))
    return f"<!doctype html><html><head><title>{title}</title></head><body><article><h1>{title}</h1>{paras}" \
           "</article></body></html>"


@pytest.fixture
def user_server():
    srv = HostileServer("127.0.0.1")
    yield srv
    srv.close()


@pytest.fixture
def internal_server(user_server):
    """Another internal host (127.0.0.2) on the same port number as the user's server, holding a secret."""
    srv = HostileServer("127.0.0.2", user_server.port)
    srv.page("/secret", SECRET)
    srv.page("/computeMetadata/v1/", SECRET)
    yield srv
    srv.close()


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setattr(http, "BACKOFF_BASE_S", 0.01)
    http.reset_rate_limits()
    return Settings(data_dir=tmp_path / "data", http_timeout_s=2.0, http_retries=1, http_deadline_s=30)


def resolver(monkeypatch, answers: dict[str, list[str]]) -> PatchedResolver:
    patched = PatchedResolver(answers)
    monkeypatch.setattr(socket, "getaddrinfo", patched)
    return patched


# ---- 2. private space -------------------------------------------------------------------------------------


def test_a_redirect_cannot_lead_to_another_internal_host(user_server, internal_server, settings):
    url = user_server.redirect("/go", internal_server.url + "/secret")
    with pytest.raises(FetchError, match="private or local address") as info:
        http.get(url, settings)
    assert info.value.exit_code == 4
    assert internal_server.requests == []


def test_a_redirect_may_stay_on_the_users_own_host(user_server, settings):
    user_server.page("/post", essay("Kept"))
    url = user_server.redirect("/old", "/post", status=301)
    resp = http.get(url, settings)
    assert resp.url == user_server.url + "/post" and b"Kept" in resp.body


def test_cloud_metadata_names_and_addresses_are_never_fetched(user_server, internal_server, settings, monkeypatch):
    resolver(monkeypatch, {"metadata.google.internal": ["127.0.0.2"], "imds.test": ["::ffff:127.0.0.2"]})
    by_name = user_server.redirect("/meta", f"http://metadata.google.internal:{internal_server.port}/computeMetadata/v1/")
    mapped = user_server.redirect("/mapped", f"http://imds.test:{internal_server.port}/secret")
    for url in (by_name, mapped):
        with pytest.raises(FetchError, match="private or local address"):
            http.get(url, settings)
    # even a URL the user gives directly, when it names a metadata service
    with pytest.raises(FetchError, match="metadata"):
        http.get(f"http://metadata.google.internal:{internal_server.port}/computeMetadata/v1/", settings)
    assert internal_server.requests == []


def test_a_feed_entry_that_redirects_into_private_space_is_refused(user_server, internal_server, settings):
    user_server.page("/post", essay("A public post"))
    hop = user_server.redirect("/hop", internal_server.url + "/secret")
    items = "".join(f"<item><title>x</title><link>{u}</link></item>" for u in (user_server.url + "/post", hop))
    feed = user_server.page("/rss.xml", f"<?xml version='1.0'?><rss version='2.0'><channel>{items}</channel></rss>",
                            "application/rss+xml")
    summary = ingest([feed], settings, progress=False)
    assert summary.added == [user_server.url + "/post"]
    assert [(src, "private or local address" in why) for src, why in summary.failed] == [(hop, True)]
    assert internal_server.requests == []


def test_a_feed_entry_name_is_resolved_once_and_checked_on_what_we_connect_to(user_server, internal_server, settings,
                                                                             monkeypatch):
    # The first two answers: the 6to4 form of 127.0.0.2 (public to a check that ignores 6to4), then 127.0.0.2 for
    # whoever asks again: a check that resolves the name and a connection that resolves it anew see different hosts.
    patched = resolver(monkeypatch, {"rebind.test": ["2002:7f00:2::1", "2002:7f00:2::1", "127.0.0.2"]})
    link = f"http://rebind.test:{internal_server.port}/secret"
    feed = user_server.page("/rss.xml", "<?xml version='1.0'?><rss version='2.0'><channel>"
                            f"<item><title>x</title><link>{link}</link></item></channel></rss>", "application/rss+xml")
    summary = ingest([feed], settings, progress=False)
    assert summary.added == []
    assert [(src, "private or local address" in why) for src, why in summary.failed] == [(link, True)]
    assert internal_server.requests == [] and patched.lookups["rebind.test"] == 1


def test_a_feed_may_list_its_own_host_under_another_name(user_server, settings, monkeypatch):
    # The user's feed is on 127.0.0.1; an entry under a name that resolves to that same address is the same host.
    resolver(monkeypatch, {"blog.test": ["127.0.0.1"]})
    user_server.page("/post", essay("Same host"))
    link = f"http://blog.test:{user_server.port}/post"
    feed = user_server.page("/rss.xml", "<?xml version='1.0'?><rss version='2.0'><channel>"
                            f"<item><title>x</title><link>{link}</link></item></channel></rss>", "application/rss+xml")
    summary = ingest([feed], settings, progress=False)
    assert summary.added == [link] and summary.failed == []


# ---- 8. a total deadline --------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["body", "chunked", "headers"])
def test_a_trickling_server_hits_the_deadline(user_server, tmp_path, where):
    http.reset_rate_limits()
    settings = Settings(data_dir=tmp_path / "data", http_timeout_s=2.0, http_retries=2, http_deadline_s=0.5)
    url = user_server.trickle("/slow", b"x" * 120, 0.03, where=where)  # 3.6 s in all, 0.03 s between bytes
    with pytest.raises(FetchError, match="0.5 s deadline") as info:
        http.get(url, settings)
    assert info.value.exit_code == 4
    assert user_server.requests == ["/slow"]  # a deadline is not retried


def test_dissect_of_a_trickling_page_exits_4_with_one_line(user_server, tmp_path, capsys, monkeypatch):
    from agent.cli_main import main

    http.reset_rate_limits()
    (tmp_path / "data").mkdir()  # not a first run: no "keeping data in" line
    monkeypatch.setenv("DISSECT_HTTP_DEADLINE", "0.3")
    url = user_server.trickle("/essay", essay("Slow").encode(), 0.02)
    code = main(["--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "reports"), "dissect", "-q", url])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 4 and len(err) == 1 and err[0].startswith("error: ") and "deadline" in err[0]


def test_a_fast_server_is_not_cut_short(user_server, tmp_path):
    settings = Settings(data_dir=tmp_path / "data", http_timeout_s=2.0, http_deadline_s=5)
    url = user_server.page("/fast", "y" * 200_000, "text/plain")
    assert http.get(url, settings).body == b"y" * 200_000


def test_a_servers_reason_phrase_reaches_the_error_line_without_control_characters(user_server, settings):
    def route(h):  # a status line with an escape sequence, a bell and a C1 control in its reason phrase
        h.wfile.write(b"HTTP/1.1 403 Forbidden\x1b[2J\x1b]0;pwned\x07\x9b\r\nContent-Length: 0\r\n\r\n")

    user_server.routes["/denied"] = route
    with pytest.raises(FetchError) as info:
        http.get(user_server.url + "/denied", settings)
    line = str(info.value)
    assert "403 Forbidden" in line and not any(c in line for c in "\x1b\x07\x9b")
