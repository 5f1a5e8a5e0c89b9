"""A client's life: one event loop, a clear error from another, a warning when left open."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from meetergo_async import CalendarConnectionUpdate, MeetergoClient
from meetergo_async._transport import AiohttpTransport
from meetergo_async.testing import FakeMeetergo


class ThreadedFake:
    """A ``FakeMeetergo`` served by an event loop of its own, in a thread: it outlives loops."""

    def __init__(self) -> None:
        self.fake = FakeMeetergo(generate=2)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeMeetergo:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(timeout=10)
        return self.fake

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def threaded_fake() -> Iterator[FakeMeetergo]:
    with ThreadedFake() as fake:
        yield fake


def make_client(fake: FakeMeetergo, **options: Any) -> MeetergoClient:
    return MeetergoClient(fake.api_key, user_id=fake.user_id, base_url=fake.url, **options)


@contextlib.contextmanager
def recorded() -> Iterator[list[warnings.WarningMessage]]:
    """Record every warning raised inside, and those of the garbage collected at its end."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
        gc.collect()
        gc.collect()


def collect() -> list[warnings.WarningMessage]:
    """Collect garbage; return every warning that it raised."""
    with recorded() as caught:
        pass
    return caught


def messages(caught: list[warnings.WarningMessage]) -> list[str]:
    return [f"{w.category.__name__}: {w.message}" for w in caught]


async def list_once(client: MeetergoClient) -> int:
    return len(await client.list_calendar_connections())


async def used_session(client: MeetergoClient) -> aiohttp.ClientSession:
    """Make one call, so the client has opened its session; return the session."""
    await list_once(client)
    transport = client._transport
    assert isinstance(transport, AiohttpTransport)
    session = transport.session
    assert session is not None
    return session


# -- one loop -------------------------------------------------------------------------------


def test_a_second_asyncio_run_gets_a_clear_error_and_aclose_leaves_no_warning(
    threaded_fake: FakeMeetergo,
) -> None:
    client = make_client(threaded_fake)
    assert asyncio.run(list_once(client)) == 2  # a pooled connection stays in the first loop

    async def second_run(client: MeetergoClient) -> None:
        with pytest.raises(RuntimeError) as error:
            await client.list_calendar_connections()
        message = str(error.value)
        assert "MeetergoClient" in message
        assert "another event loop" in message
        assert "one client per event loop" in message
        await client.aclose()

    with recorded() as caught:
        asyncio.run(second_run(client))
        del client

    assert messages(caught) == []
    assert len(threaded_fake.requests) == 1  # the refused call sent nothing


def test_every_method_refuses_another_loop_before_touching_aiohttp(
    threaded_fake: FakeMeetergo,
) -> None:
    client = make_client(threaded_fake)
    asyncio.run(list_once(client))
    update = ("conn-0000", CalendarConnectionUpdate(primary_calendar="x"))

    async def misuse(client: MeetergoClient) -> list[str]:
        errors = []
        for use in (
            lambda: client.__aenter__(),
            lambda: client.update_calendar_connection(*update),
            lambda: client.update_calendar_connections([update]),
        ):
            with pytest.raises(RuntimeError, match="MeetergoClient") as error:
                await use()
            errors.append(str(error.value))
        with pytest.raises(RuntimeError, match="another event loop"):
            client.iter_update_calendar_connections([update])
        await client.aclose()
        return errors

    with recorded() as caught:
        errors = asyncio.run(misuse(client))
        del client

    assert len(errors) == 3
    assert all("aiohttp" not in e and "Timeout context" not in e for e in errors)
    assert len(threaded_fake.requests) == 1
    assert messages(caught) == []


async def test_a_thread_with_its_own_loop_gets_the_error_while_the_owner_runs(
    fake_meetergo: FakeMeetergo,
) -> None:
    async with make_client(fake_meetergo) as client:
        await list_once(client)

        def in_a_thread() -> str:
            try:
                asyncio.run(list_once(client))
            except RuntimeError as error:
                return str(error)
            return "no error"

        message = await asyncio.to_thread(in_a_thread)

        assert "this MeetergoClient was opened in another event loop" in message
        assert await list_once(client) == len(fake_meetergo.connections)  # the owner loop works

    assert len(fake_meetergo.requests) == 2


async def test_aclose_from_another_thread_hands_the_closing_to_the_running_owner(
    fake_meetergo: FakeMeetergo,
) -> None:
    client = make_client(fake_meetergo)
    session = await used_session(client)

    await asyncio.to_thread(asyncio.run, client.aclose())

    assert client.closed
    assert session.closed


# -- a client left open ---------------------------------------------------------------------


async def test_a_client_collected_while_open_warns_once_naming_itself(
    fake_meetergo: FakeMeetergo,
) -> None:
    client = make_client(fake_meetergo)
    session = await used_session(client)

    with recorded() as caught:
        del client
    for _ in range(5):  # the loop finishes closing the sockets the client left
        await asyncio.sleep(0)

    assert len(caught) == 1, messages(caught)
    warning = caught[0]
    assert warning.category is ResourceWarning
    assert "MeetergoClient" in str(warning.message)
    assert "async with" in str(warning.message)
    assert "aclose()" in str(warning.message)
    assert session.closed
    assert messages(collect()) == []  # nothing of aiohttp's left behind to warn later


def test_a_client_left_open_after_its_loop_closed_warns_once(
    threaded_fake: FakeMeetergo,
) -> None:
    client = make_client(threaded_fake)
    asyncio.run(list_once(client))

    with recorded() as caught:
        del client

    assert len(caught) == 1, messages(caught)
    assert caught[0].category is ResourceWarning
    assert "MeetergoClient" in str(caught[0].message)


async def test_a_closed_or_never_opened_client_does_not_warn(
    fake_meetergo: FakeMeetergo,
) -> None:
    async with make_client(fake_meetergo) as closed:
        await list_once(closed)
    unopened = make_client(fake_meetergo)

    with recorded() as caught:
        del closed, unopened

    assert messages(caught) == []


def test_a_client_whose_constructor_failed_does_not_warn() -> None:
    with pytest.raises(ValueError, match="api_key"):
        MeetergoClient("")

    assert messages(collect()) == []


async def test_a_borrowed_session_is_left_open_even_by_a_client_left_open(
    fake_meetergo: FakeMeetergo,
) -> None:
    async with aiohttp.ClientSession() as session:
        client = make_client(fake_meetergo, session=session)
        await list_once(client)
        with recorded() as caught:
            del client

        assert [str(w.message).startswith("unclosed <MeetergoClient") for w in caught] == [True]
        assert not session.closed
