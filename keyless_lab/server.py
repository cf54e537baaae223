"""One HTTPS server on 127.0.0.1 carrying every surface of the lab, run by uvicorn in a thread.

Unknown paths, bad methods and unexpected failures all get Azure-shaped JSON, never a trace.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading

import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from . import admin_api, arm, entra, errors, graph_api, identity_endpoint, oidc_issuers, openai_api
from .errors import AzureError
from .state import LabState
from .tls import TlsFiles
from .web import MAX_HEADER_BYTES, error_response

log = logging.getLogger("keyless_lab")


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 404:
        return error_response(errors.resource_not_found())
    if status == 405:
        return error_response(AzureError(405, {"error": {"code": "405", "message": "Method not allowed"}}))
    return error_response(errors.server_error())


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Logged by type only: an exception's text could carry a header or a token.
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(errors.server_error())


class HeaderLimit:
    """Refuse a header block over :data:`MAX_HEADER_BYTES` with 431.

    uvicorn bounds only a header block that arrives in pieces; one that arrives whole would pass,
    so the bound is checked here too, the same for every request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and sum(len(k) + len(v) for k, v in scope["headers"]) > MAX_HEADER_BYTES:
            await error_response(errors.headers_too_large(MAX_HEADER_BYTES))(scope, receive, send)
            return
        await self.app(scope, receive, send)


def build_app(state: LabState) -> Starlette:
    routes = [
        *openai_api.routes,
        *identity_endpoint.routes,
        *arm.routes,
        *entra.routes,
        *graph_api.routes,
        *admin_api.routes,
        *oidc_issuers.routes,
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(HeaderLimit)],
        exception_handlers={HTTPException: _http_error, Exception: _unexpected},
    )
    app.state.lab = state
    return app


def bind(port: int = 0) -> socket.socket:
    """A listening socket on loopback only; port 0 picks a free one."""
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket names it, and without it every response body waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as err:
        sock.close()
        if err.errno == errno.EADDRINUSE:
            message = f"Port {port} on 127.0.0.1 is already in use — choose another or use 0 for any free port"
        else:
            message = f"Port {port} on 127.0.0.1 cannot be opened ({err.strerror}) — use a port above 1023 or 0"
        raise OSError(message) from err
    sock.listen(128)
    return sock


class ServerThread:
    """uvicorn serving ``app`` over TLS on ``sock`` in a daemon thread."""

    def __init__(self, app: Starlette, sock: socket.socket, tls: TlsFiles) -> None:
        config = uvicorn.Config(
            app,
            ssl_certfile=str(tls.server_cert),
            ssl_keyfile=str(tls.server_key),
            log_level="warning",
            access_log=False,  # request lines carry no secrets, but the audit log is the record
            lifespan="off",
            timeout_keep_alive=30,
            timeout_graceful_shutdown=1,
            h11_max_incomplete_event_size=32_768,
        )
        self._server = uvicorn.Server(config)
        self._sock = sock
        self._thread = threading.Thread(target=self._run, name="keyless-lab", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._sock]))

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = threading.Event()
        for _ in range(int(timeout / 0.005)):
            if self._server.started or not self._thread.is_alive():
                break
            deadline.wait(0.005)
        if not self._server.started:
            raise RuntimeError("The lab's server did not start; see the log above for the cause.")

    def stop(self) -> None:
        # Idle keep-alive connections of long-lived clients must not hold the shutdown.
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=5)
        self._sock.close()
