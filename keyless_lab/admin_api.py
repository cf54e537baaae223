"""The lab's own admin surface under ``/lab/…``, for processes that cannot hold the lab handle
(the ``az``/``azd`` stand-ins, ``python -m keyless_lab serve``); protected by the lab's admin secret.
"""

from __future__ import annotations

routes: list = []
