"""HTTPS calls from the CLI stand-ins to the lab, verified against the lab's CA bundle as the real
CLIs verify Azure's certificates (``REQUESTS_CA_BUNDLE``); never without verification.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

USER_AGENT = "keyless-lab-cli/1.0"


class CliError(Exception):
    """Ends a command: ``message`` goes to stderr after ``ERROR: ``; ``hint`` follows on its own lines."""

    def __init__(self, message: str, exit_code: int = 1, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.hint = hint


class HttpAnswer(NamedTuple):
    status: int
    body: Any  # parsed JSON, or None for an empty body, or the text when it is not JSON


class Transport:
    """One TLS context for all calls of a command."""

    def __init__(self, ca_file: str | None) -> None:
        import ssl  # loaded only by commands that go over the network

        self._context = ssl.create_default_context(cafile=ca_file)

    def call(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 20.0,
    ) -> HttpAnswer:
        import urllib.error
        import urllib.parse
        import urllib.request

        sent = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        data: bytes | None = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            sent["Content-Type"] = "application/json"
        elif method in ("POST", "PUT", "PATCH"):
            data = b""
        request = urllib.request.Request(url, data=data, headers=sent, method=method)
        try:
            with urllib.request.urlopen(request, context=self._context, timeout=timeout) as response:
                return HttpAnswer(response.status, _parse(response.read()))
        except urllib.error.HTTPError as err:
            return HttpAnswer(err.code, _parse(err.read()))
        except urllib.error.URLError as err:
            host = urllib.parse.urlsplit(url).netloc
            raise CliError(
                f"Could not reach the lab at {host} ({_reason(err)}). Is the lab still running? "
                "Start one with connect() in a notebook or `python -m keyless_lab serve`."
            ) from None
        except (TimeoutError, OSError) as err:
            raise CliError(f"The call to the lab failed: {type(err).__name__}.") from None


def _reason(err: Any) -> str:
    import ssl

    reason = err.reason
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"certificate verification failed: {reason.verify_message}"
    return str(reason)


def _parse(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
