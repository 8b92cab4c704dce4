"""A ``Status`` answer as the API server writes it, for the kube unit tests."""

from __future__ import annotations

import json


def status_body(code: int, reason: str, message: str, **details: str) -> str:
    """The JSON body of a failed request (responsewriters.ErrorNegotiated)."""
    return json.dumps(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            **({"details": details} if details else {}),
            "code": code,
        }
    )
