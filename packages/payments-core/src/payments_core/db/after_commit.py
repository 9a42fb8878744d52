"""Callbacks that run only once the session's transaction has committed.

For side effects that must not count work a rollback undid, such as metrics: an activity retried
after its transaction rolled back would otherwise count the same transition twice.
"""

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_CALLBACKS = "payments_after_commit"


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run `callback` after the session's outermost transaction commits; drop it on rollback."""
    session.sync_session.info.setdefault(_CALLBACKS, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_callbacks(session: Session) -> None:
    for callback in session.info.pop(_CALLBACKS, []):
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_callbacks(session: Session) -> None:
    session.info.pop(_CALLBACKS, None)
