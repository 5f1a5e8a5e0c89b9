"""Named defaults, the frozen configuration classes, and resolving a client's settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

import attrs

from ._credentials import (
    PAT_PREFIX,
    check_base_url,
    check_credentials,
    check_proxy,
    missing_acting_user,
    needs_acting_user,
)
from ._transport import Transport
from ._validate import (
    check_count,
    check_instance,
    check_non_negative,
    check_positive,
    check_text,
)
from .errors import ArgumentTypeError, ArgumentValueError
from .pacing import SharedBudget, SlidingWindow, TokenBucket

DEFAULT_BASE_URL: Final = "https://api.meetergo.com"
DEFAULT_TIMEOUT: Final = 30.0
"""Seconds one attempt may take; other meetergo clients use 30 s too."""
DEFAULT_MAX_CONCURRENCY: Final = 16
"""Requests of one client in flight at once."""
DEFAULT_MAX_RESPONSE_BYTES: Final = 10 * 1024 * 1024
"""Response bodies are never read past this many bytes."""

ENV_API_KEY: Final = "MEETERGO_API_KEY"
ENV_USER_ID: Final = "MEETERGO_USER_ID"
ENV_BASE_URL: Final = "MEETERGO_BASE_URL"


@attrs.frozen
class RetryPolicy:
    """How one call retries: attempts, backoff, how long to honour ``Retry-After``, a deadline.

    Args:
        max_attempts: every attempt counts, the first included; ``1`` means no retry.
        initial_backoff: seconds; the n-th retry waits a random time in
            ``[0, min(max_backoff, initial_backoff * 2**(n-1))]`` (full jitter) unless the
            server sent ``Retry-After``.
        max_backoff: the cap of that range, in seconds.
        max_retry_after: a ``Retry-After`` longer than this stops the retries at once and the
            error is raised (``RateLimitError.retry_after`` tells the caller how long).
        deadline: total seconds one call may spend from its first attempt, waits included;
            ``None`` for no bound. A wait that would end past it is not started.

    Raises:
        ValueError: a value is out of range. TypeError: a value is not a number.
    """

    max_attempts: int = 8
    initial_backoff: float = 0.5
    max_backoff: float = 20.0
    max_retry_after: float = 60.0
    deadline: float | None = 120.0

    def __attrs_post_init__(self) -> None:
        check_count("max_attempts", self.max_attempts)
        check_non_negative("initial_backoff", self.initial_backoff)
        check_non_negative("max_backoff", self.max_backoff)
        check_non_negative("max_retry_after", self.max_retry_after)
        if self.deadline is not None:
            check_positive("deadline", self.deadline)


DEFAULT_RETRY_POLICY: Final = RetryPolicy()
"""Eight attempts, full-jitter backoff from 0.5 s up to 20 s, a 120 s deadline per call."""


@attrs.frozen
class ClientSettings:
    """A client's settings after resolution: arguments first, then ``MEETERGO_*``, then defaults.

    Attributes:
        api_key: the credential (never shown in a repr).
        user_id: the default acting user, or ``None``.
        base_url: the API host, checked, without a trailing slash.
        timeout: seconds one attempt may take.
        retry: the default retry policy.
        rate_limit: the client's pace (a shared budget included), or ``None``.
        max_concurrency: most requests in flight at once.
        max_response_bytes: the cap of a response body.
        proxy: the proxy URL of the session the client makes, or ``None`` (never shown in
            a repr: it may hold a password).
        trust_env: whether that session takes its proxy from the environment.
    """

    api_key: str = attrs.field(repr=False)
    user_id: str | None
    base_url: str
    timeout: float
    retry: RetryPolicy
    rate_limit: TokenBucket | SlidingWindow | SharedBudget | None
    max_concurrency: int
    max_response_bytes: int
    proxy: str | None = attrs.field(default=None, repr=False)
    trust_env: bool = True

    def acting_user(self, as_user: str | None) -> str | None:
        """The user a call acts as: ``as_user`` (checked), else the default user.

        Raises:
            ArgumentValueError, ArgumentTypeError: ``as_user`` is malformed, given with a
                personal access token, or missing where an API key has no default user.
        """
        if as_user is None:
            if self.user_id is None and needs_acting_user(self.api_key, None):
                raise missing_acting_user()
            return self.user_id
        check_text("as_user", as_user)
        if self.api_key.startswith(PAT_PREFIX):
            raise ArgumentValueError(
                "as_user",
                "{name} cannot be used with a personal access token (rgo-...): it always acts "
                "as its owner and meetergo refuses it with 403",
            )
        return as_user

    def attempt_timeout(self, timeout: float | None) -> float:
        """The seconds one attempt of a call may take: ``timeout`` (checked), else the default."""
        if timeout is None:
            return self.timeout
        check_positive("timeout", timeout)
        return float(timeout)

    def retry_policy(self, retry: RetryPolicy | None) -> RetryPolicy:
        """A call's retry policy: ``retry`` (checked), else the default."""
        if retry is None:
            return self.retry
        check_instance("retry", retry, RetryPolicy)
        return retry


def _from_env(value: str | None, name: str, environ: Mapping[str, str]) -> str | None:
    # An empty or blank environment variable counts as unset; an empty argument is an error.
    if value is not None:
        return value
    found = environ.get(name, "")
    return found if found.strip() else None


def _check_rate_limit(rate_limit: object) -> None:
    if rate_limit is not None and not isinstance(
        rate_limit, TokenBucket | SlidingWindow | SharedBudget
    ):
        kind = type(rate_limit).__name__
        raise ArgumentTypeError(
            "rate_limit",
            f"{{name}} must be a SlidingWindow, a TokenBucket, a RedisBudget or None, got {kind}",
        )


def check_transport(transport: object, *, session: object, proxy: object) -> None:
    """Refuse a ``transport`` that is not one, or comes with a ``session`` or a ``proxy``.

    Raises:
        ArgumentTypeError: ``transport`` lacks ``send`` and ``aclose``.
        ArgumentValueError: it is given with a ``session`` or a ``proxy``, which only the
            client's own aiohttp transport uses.
    """
    if transport is None:
        return
    if not isinstance(transport, Transport):
        kind = type(transport).__name__
        raise ArgumentTypeError(
            "transport", f"{{name}} must have async send(request) and aclose(), got {kind}"
        )
    for name, value in (("session", session), ("proxy", proxy)):
        if value is not None:
            raise ArgumentValueError(
                "transport", f"{{name}} sends every attempt itself: it cannot go with {name}"
            )


def resolve_settings(
    *,
    api_key: str | None,
    user_id: str | None,
    base_url: str | None,
    allow_insecure_http: bool,
    timeout: float,
    retry: RetryPolicy,
    rate_limit: TokenBucket | SlidingWindow | SharedBudget | None,
    max_concurrency: int,
    max_response_bytes: int,
    proxy: str | None = None,
    trust_env: bool = True,
    borrowed_session: bool = False,
    environ: Mapping[str, str] = os.environ,
) -> ClientSettings:
    """Check every option of a client and fill in the environment and the defaults.

    Raises:
        ArgumentValueError, ArgumentTypeError: an option is missing, malformed or out of range.
    """
    key, user = check_credentials(
        _from_env(api_key, ENV_API_KEY, environ), _from_env(user_id, ENV_USER_ID, environ)
    )
    url = _from_env(base_url, ENV_BASE_URL, environ)
    url = check_base_url(DEFAULT_BASE_URL if url is None else url, allow_insecure_http)
    check_positive("timeout", timeout)
    check_count("max_concurrency", max_concurrency)
    check_count("max_response_bytes", max_response_bytes)
    check_instance("retry", retry, RetryPolicy)
    _check_rate_limit(rate_limit)
    check_instance("trust_env", trust_env, bool)
    proxy = check_proxy(proxy, borrowed_session)
    return ClientSettings(
        key,
        user,
        url,
        float(timeout),
        retry,
        rate_limit,
        max_concurrency,
        max_response_bytes,
        proxy,
        trust_env,
    )
