"""Query helpers shared by repositories."""

from typing import Any

from sqlalchemy import Select, Uuid, and_, or_

from payments_core.pagination import PageRequest


def paginate_newest_first(statement: Select[Any], model: Any, page: PageRequest) -> Select[Any]:
    """Keyset pagination on (created_at, id) descending; offset only without a cursor."""
    if page.cursor is not None:
        cursor_id = page.cursor.id_for(column_is_uuid=isinstance(model.id.type, Uuid))
        statement = statement.where(
            or_(
                model.created_at < page.cursor.created_at,
                and_(model.created_at == page.cursor.created_at, model.id < cursor_id),
            )
        )
    elif page.offset:
        statement = statement.offset(page.offset)
    return statement.order_by(model.created_at.desc(), model.id.desc()).limit(page.limit + 1)
