"""What the SDK raises: one root, one class per thing a caller can do something about.

::

    seqedit.errors.SeqeditError                (and RuntimeError, like the wavespeed SDK's errors)
    └── ClientError(message, code)             everything seqedit.Client / AsyncClient raise
        ├── ApiError(status, code, message, field, limit)
        │                                      the server answered 4xx/5xx: nothing was done (a refused
        │                                      submit creates no task); ``field`` names the bad input
        ├── TransportError(message, idempotency_key)
        │                                      no answer (connection refused or dropped, read timeout)
        │                                      after the retries a poll is allowed; for a submit: the task
        │                                      MAY exist — resend with the same ``idempotency_key``
        ├── TaskFailed(prediction)             the task ended ``failed`` (``code``, ``message``, ``id``)
        │   └── Refused(clause, prediction)    1403: the engine cannot do this edit — from the plan before
        │                                      any task exists (``prediction`` None), or from the task
        ├── TaskCancelled(prediction)          the task ended ``cancelled``
        └── Timeout(id)                        ``wait`` gave up; the task keeps running (also a
                                               TimeoutError); a sync-mode submit whose wait ran out

``RequestError`` (``seqedit.errors``) is raised before any HTTP for a reference the SDK cannot read
(a missing local file names ``images[i]``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from seqedit.errors import TASK_FAILED, SeqeditError

if TYPE_CHECKING:
    from seqedit.sdk.types import Prediction

__all__ = ["ClientError", "ApiError", "TransportError", "TaskFailed", "Refused", "TaskCancelled", "Timeout"]


class ClientError(SeqeditError, RuntimeError):
    """The root of what the SDK raises. Also a ``RuntimeError``, so code written for the ``wavespeed``
    SDK (which raises ``RuntimeError``) keeps catching it."""


class ApiError(ClientError):
    """An HTTP error answer: ``status`` (400, 401, 404, 413, 429, 5xx), the body's ``code``,
    ``message``, and for bad input the ``field`` and the ``limit`` it broke."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: int | None = None,
        field: str | None = None,
        limit: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(f"HTTP {status}: {message}", code=code or status)
        self.status = status
        self.message = message
        self.field = field
        self.limit = limit
        self.body = body


class TransportError(ClientError):
    """The server gave no answer. ``idempotency_key`` is the key the unanswered submit carried (None for
    other requests): submitting again with it returns the task if it was created, and creates it if not."""

    def __init__(self, message: str, *, idempotency_key: str | None = None) -> None:
        super().__init__(message)
        self.idempotency_key = idempotency_key


class TaskFailed(ClientError):
    """The task ended ``failed``: ``code`` is its WaveSpeed code (1400/1401 bad input or image, 1402 an
    image that could not be fetched, 1403 unsupported, 5000 internal), ``prediction`` the last poll."""

    def __init__(self, message: str, *, code: int, prediction: Prediction | None = None) -> None:
        super().__init__(message, code=code)
        self.prediction = prediction

    @property
    def id(self) -> str | None:
        return self.prediction.id if self.prediction is not None else None


class Refused(TaskFailed):
    """The engine cannot do this edit (1403). ``clause`` names the part of the prompt when known."""

    def __init__(self, message: str, *, clause: str | None = None, prediction: Prediction | None = None) -> None:
        super().__init__(message, code=TASK_FAILED, prediction=prediction)
        self.clause = clause


class TaskCancelled(ClientError):
    """The task ended ``cancelled`` (by ``cancel`` or another client holding the key)."""

    def __init__(self, message: str, *, prediction: Prediction) -> None:
        super().__init__(message)
        self.prediction = prediction


class Timeout(ClientError, TimeoutError):
    """``wait`` (or a sync-mode submit) stopped waiting; the task ``id`` keeps running on the server."""

    def __init__(self, message: str, *, id: str | None) -> None:
        super().__init__(message)
        self.id = id
