"""meetergo-async: an asynchronous Python SDK for meetergo's calendar-connection API.

```python
async with MeetergoClient(api_key="ak_live:...", user_id="user-uuid") as client:
    conn = await client.update_calendar_connection(
        "conn-uuid", CalendarConnectionUpdate(validate_availability=True)
    )
```
"""

import warnings
from typing import TYPE_CHECKING, Any

from ._client import ClientStats, MeetergoClient
from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_RETRY_POLICY,
    DEFAULT_TIMEOUT,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_USER_ID,
    RetryPolicy,
)
from ._credentials import API_KEY_PREFIX, PAT_PREFIX
from ._events import AttemptEvent, Event, OnEvent, OnRetry, RetryEvent, WaitEvent, WaitReason
from ._http import USER_ID_HEADER
from ._serde import UPDATE_FIELD_NAMES, to_dict, update_from_dict
from ._transport import Request, Response, Transport
from ._unset import UNSET, Unset
from ._version import __version__
from .errors import (
    REDACTED,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    APITLSError,
    ArgumentError,
    ArgumentTypeError,
    ArgumentValueError,
    AuthenticationError,
    BadRequestError,
    BudgetUnavailableError,
    ConflictError,
    MeetergoError,
    NotFoundError,
    PermissionDeniedError,
    PlanLimitError,
    RateLimitError,
    ServerError,
)
from .models import CalendarConnection, CalendarConnectionUpdate, UpdateRequest, UpdateResult
from .pacing import DEFAULT_RATE_LIMIT, Priority, SharedBudget, SlidingWindow, TokenBucket

__all__ = [
    "API_KEY_PREFIX",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RETRY_POLICY",
    "DEFAULT_TIMEOUT",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_USER_ID",
    "PAT_PREFIX",
    "REDACTED",
    "UNSET",
    "UPDATE_FIELD_NAMES",
    "USER_ID_HEADER",
    "APIConnectionError",
    "APIStatusError",
    "APITLSError",
    "APITimeoutError",
    "ArgumentError",
    "ArgumentTypeError",
    "ArgumentValueError",
    "AttemptEvent",
    "AuthenticationError",
    "BadRequestError",
    "BudgetUnavailableError",
    "CalendarConnection",
    "CalendarConnectionUpdate",
    "ClientStats",
    "ConflictError",
    "Event",
    "MeetergoClient",
    "MeetergoError",
    "NotFoundError",
    "OnEvent",
    "OnRetry",
    "PermissionDeniedError",
    "PlanLimitError",
    "Priority",
    "RateLimitError",
    "Request",
    "Response",
    "RetryEvent",
    "RetryPolicy",
    "ServerError",
    "SharedBudget",
    "SlidingWindow",
    "TokenBucket",
    "Transport",
    "Unset",
    "UpdateRequest",
    "UpdateResult",
    "WaitEvent",
    "WaitReason",
    "__version__",
    "to_dict",
    "update_from_dict",
]

if TYPE_CHECKING:
    RateLimit = TokenBucket
    """Deprecated: the former name of ``TokenBucket``."""
else:

    def __getattr__(name: str) -> Any:
        if name == "RateLimit":
            warnings.warn(
                "meetergo_async.RateLimit is now TokenBucket; the old name will go in 1.0",
                DeprecationWarning,
                stacklevel=2,
            )
            return TokenBucket
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
