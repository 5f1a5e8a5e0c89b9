"""How attempts reach the server: the ``Transport`` seam and the client's aiohttp transport.

``_protocol`` is the seam (public: ``Transport``, ``Request``, ``Response``); ``_aiohttp`` is
the only module of the package that calls aiohttp to send, ``_failures`` the one that reads
aiohttp's exceptions.
"""

from ._aiohttp import AiohttpTransport
from ._protocol import Request, Response, Transport

__all__ = ["AiohttpTransport", "Request", "Response", "Transport"]
