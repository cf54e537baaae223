"""RSA 2048 signing keys for the lab's token issuer, made ahead of need in a background thread.

Entra signs access tokens with RSA keys (RS256); making one means a prime search that takes from
50 ms to over half a second. OpenSSL does it without holding the GIL, so the next key is made while
the process imports the server stack or runs a lesson, and ``Lab()`` does not wait for it.
Every key is handed out once: no two labs share a signing key.
"""

from __future__ import annotations

import os
import threading

from cryptography.hazmat.primitives.asymmetric import rsa


class _Pending:
    """One key in the making."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._key: rsa.RSAPrivateKey | None = None
        self._error: BaseException | None = None
        self._done = threading.Event()
        # A daemon thread: an interpreter that exits meanwhile does not wait for a key nobody needs.
        threading.Thread(target=self._make, name="keyless-lab-signing-key", daemon=True).start()

    def _make(self) -> None:
        try:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        except BaseException as err:  # handed to the thread that takes the key
            self._error = err
        finally:
            self._done.set()

    def result(self) -> rsa.RSAPrivateKey:
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._key is not None
        return self._key


_lock = threading.Lock()
_next: _Pending | None = None


def prefetch() -> None:
    """Start making a key if none is in the making (in this process: a fork does not inherit threads)."""
    global _next
    with _lock:
        if _next is None or _next.pid != os.getpid():
            _next = _Pending()


def take() -> rsa.RSAPrivateKey:
    """A new key of its own for one issuer; the one after it is started at once."""
    global _next
    prefetch()
    with _lock:
        pending, _next = _next, _Pending()
    assert pending is not None
    return pending.result()


# Imported first by ``keyless_lab.lab``, so that the first lab's key is made during the imports.
prefetch()
