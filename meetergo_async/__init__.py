"""meetergo-async: an asynchronous Python SDK for meetergo's calendar-connection API.

```python
async with MeetergoClient(api_key="ak_live:...", user_id="user-uuid") as client:
    conn = await client.update_calendar_connection(
        "conn-uuid", CalendarConnectionUpdate(validate_availability=True)
    )
```
"""

from ._client import ClientStats, MeetergoClient
from ._config import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_RATE_LIMIT,
    DEFAULT_RETRY_POLICY,
    DEFAULT_TIMEOUT,
    RateLimit,
    RetryPolicy,
    SlidingWindow,
)
from ._events import AttemptEvent, WaitEvent
from ._retry import RetryEvent
from ._serde import to_dict, update_from_dict
from ._unset import UNSET, Unset
from ._version import __version__
from .errors import (
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

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_RATE_LIMIT",
    "DEFAULT_RETRY_POLICY",
    "DEFAULT_TIMEOUT",
    "UNSET",
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
    "MeetergoClient",
    "MeetergoError",
    "NotFoundError",
    "PermissionDeniedError",
    "PlanLimitError",
    "RateLimit",
    "RateLimitError",
    "RetryEvent",
    "RetryPolicy",
    "ServerError",
    "SlidingWindow",
    "Unset",
    "UpdateRequest",
    "UpdateResult",
    "WaitEvent",
    "__version__",
    "to_dict",
    "update_from_dict",
]
