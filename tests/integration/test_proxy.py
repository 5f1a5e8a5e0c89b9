"""Proxies, end to end: requests reach FakeMeetergo through a real tinyproxy on 127.0.0.1.

The proxy adds a ``Via`` header to what it forwards and logs each request line, so either
proves the way a request took. Credentials in a proxy URL must never reach a log record, an
error or a repr.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from meetergo_async import APIConnectionError, MeetergoClient, MeetergoError, RetryPolicy
from meetergo_async.testing import FakeMeetergo
from tests.integration._servers import refused_port
from tests.integration._tinyproxy import Tinyproxy, tinyproxy

LOGIN, PASSWORD = "alice", "pr0xy-s3cret"
ONCE = RetryPolicy(max_attempts=1)


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    with tinyproxy(tmp_path) as running:
        yield running


@pytest.fixture
def auth_proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    with tinyproxy(tmp_path, basic_auth=(LOGIN, PASSWORD)) as running:
        yield running


def make_client(fake: FakeMeetergo, **options: Any) -> MeetergoClient:
    options.setdefault("retry", ONCE)
    return MeetergoClient(fake.api_key, user_id=fake.user_id, base_url=fake.url, **options)


def proxied(fake: FakeMeetergo) -> list[bool]:
    """For each request the fake received: did it come through tinyproxy?"""
    return ["tinyproxy" in request.headers.get("Via", "") for request in fake.requests]


async def list_once(client: MeetergoClient) -> int:
    async with client:
        return len(await client.list_calendar_connections())


async def test_an_explicit_proxy_carries_the_requests(
    fake_meetergo: FakeMeetergo, proxy: Tinyproxy
) -> None:
    fake_meetergo.add_connection(id="conn-1")

    listed = await list_once(make_client(fake_meetergo, proxy=proxy.url()))
    assert listed == len(fake_meetergo.connections)

    assert proxied(fake_meetergo) == [True]
    assert proxy.requests() == [
        f"GET {fake_meetergo.url}/v4/calendar-connections/connections HTTP/1.1"
    ]


async def test_the_environment_s_proxy_is_used_by_default(
    fake_meetergo: FakeMeetergo, proxy: Tinyproxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url())

    await list_once(make_client(fake_meetergo))

    assert proxied(fake_meetergo) == [True]


async def test_trust_env_false_and_no_proxy_go_direct(
    fake_meetergo: FakeMeetergo, proxy: Tinyproxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    await list_once(make_client(fake_meetergo, trust_env=False))
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    await list_once(make_client(fake_meetergo))

    assert proxied(fake_meetergo) == [False, False]
    assert proxy.requests() == []


async def test_proxy_credentials_from_the_url_or_netrc_are_sent_and_never_shown(
    fake_meetergo: FakeMeetergo,
    auth_proxy: Tinyproxy,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    explicit = make_client(fake_meetergo, proxy=auth_proxy.url(f"{LOGIN}:{PASSWORD}"))
    await list_once(explicit)
    monkeypatch.setenv("HTTP_PROXY", auth_proxy.url(f"{LOGIN}:{PASSWORD}"))
    await list_once(make_client(fake_meetergo))
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {LOGIN} password {PASSWORD}\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HTTP_PROXY", auth_proxy.url())
    await list_once(make_client(fake_meetergo))

    assert proxied(fake_meetergo) == [True, True, True]
    assert all("Proxy-Authorization" not in r.headers for r in fake_meetergo.requests)
    assert PASSWORD not in repr(explicit) + repr(explicit._settings)
    assert PASSWORD not in caplog.text


async def test_a_refused_proxy_password_is_an_error_that_does_not_show_it(
    fake_meetergo: FakeMeetergo, auth_proxy: Tinyproxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_client(fake_meetergo, proxy=auth_proxy.url(f"{LOGIN}:wrong-{PASSWORD}"))

    with pytest.raises(MeetergoError) as error:
        await list_once(client)

    assert fake_meetergo.requests == []
    shown = f"{error.value} {error.value!r} {getattr(error.value, 'body', '')} {caplog.text}"
    assert PASSWORD not in shown


async def test_an_unreachable_proxy_is_an_error_that_does_not_show_its_password(
    fake_meetergo: FakeMeetergo, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with refused_port() as port:
        client = make_client(fake_meetergo, proxy=f"http://{LOGIN}:{PASSWORD}@127.0.0.1:{port}")
        with pytest.raises(APIConnectionError) as error:
            await list_once(client)

    shown = f"{error.value} {error.value!r} {error.value.__cause__} {caplog.text}"
    assert PASSWORD not in shown
    assert str(port) in str(error.value)  # it does say which proxy
    assert fake_meetergo.requests == []


@pytest.mark.parametrize(
    ("proxy", "kind", "message"),
    [
        (3128, TypeError, "proxy must be a str"),
        (f"ftp://{LOGIN}:{PASSWORD}@proxy.example:21", ValueError, "http:// or https://"),
        (f"http://{LOGIN}:{PASSWORD}@proxy.example:99999", ValueError, "not a valid URL"),
        (f"http://{LOGIN}:{PASSWORD}@proxy.example:3128/path?x=1", ValueError, "nothing more"),
        ("http://", ValueError, "name a host"),
    ],
)
def test_a_malformed_proxy_is_refused_without_showing_it(
    proxy: object, kind: type[Exception], message: str
) -> None:
    with pytest.raises(kind, match=message) as error:
        MeetergoClient("rgo-" + "a" * 32, proxy=proxy)  # type: ignore[arg-type]

    assert getattr(error.value, "argument", None) == "proxy"
    assert PASSWORD not in str(error.value)


async def test_a_proxy_is_refused_with_a_borrowed_session_and_trust_env_must_be_bool() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(ValueError, match="proxy applies to the session the client makes"):
            MeetergoClient("rgo-" + "a" * 32, session=session, proxy="http://127.0.0.1:3128")
    with pytest.raises(TypeError, match="trust_env must be a bool"):
        MeetergoClient("rgo-" + "a" * 32, trust_env="no")  # type: ignore[arg-type]
