"""Cursor pagination, newest first, keyed on (created_at, id); `offset` kept for compatibility."""

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from payments_core.errors import InvalidRequest
from payments_core.schemas import is_valid_unicode

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: datetime
    # A UUID, or an event id (`evt_…`): checked against the listed column by `id_for`.
    id: str

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), str(self.id)]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> "Cursor":
        try:
            padded = token + "=" * (-len(token) % 4)
            created_at, item_id = json.loads(base64.urlsafe_b64decode(padded))
            if not isinstance(item_id, str) or not _storable_id(item_id):
                raise ValueError("cursor id")
            moment = datetime.fromisoformat(created_at)
            moment.astimezone(UTC)  # OverflowError when the offset takes it out of range
            return cls(moment, item_id)
        except (ValueError, TypeError, AttributeError, OverflowError, binascii.Error):
            raise invalid_cursor() from None

    def id_for(self, column_is_uuid: bool) -> uuid.UUID | str:
        """The id in the listed column's type; a cursor from another list is refused."""
        if not column_is_uuid:
            return self.id
        try:
            return uuid.UUID(self.id)
        except ValueError:
            raise invalid_cursor() from None


def _storable_id(item_id: str) -> bool:
    """What the listed id column can be compared with: short, no NUL, valid Unicode."""
    return len(item_id) <= 64 and "\x00" not in item_id and is_valid_unicode(item_id)


def invalid_cursor() -> InvalidRequest:
    return InvalidRequest("cursor is not a valid pagination cursor", param="cursor")


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    cursor: Cursor | None = None
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    limit: int
    has_more: bool
    next_cursor: str | None

    def pagination(self) -> dict[str, Any]:
        return {"limit": self.limit, "hasMore": self.has_more, "nextCursor": self.next_cursor}


def page_from_rows(rows: list[Any], request: PageRequest) -> "Page[Any]":
    """Rows were fetched with limit + 1: the extra row only says there is more."""
    has_more = len(rows) > request.limit
    items = rows[: request.limit]
    next_cursor = Cursor(items[-1].created_at, str(items[-1].id)).encode() if has_more else None
    return Page(items, request.limit, has_more, next_cursor)
