"""Wire-model base: camelCase on the wire, snake_case accepted, unknown fields rejected."""

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainSerializer, field_validator
from pydantic.alias_generators import to_camel

from payments_core.events.envelope import format_timestamp

Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str)]


class RequestModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="forbid",
        str_strip_whitespace=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        # PostgreSQL text and jsonb hold neither NUL nor a lone UTF-16 surrogate (JSON allows
        # `"\ud800"`; UTF-8 cannot encode it): refuse both here as bad input, not later as a
        # 500. Pydantic refuses surrogates in plain string fields, not inside free-form objects.
        if _contains_nul(value):
            raise ValueError("text must not contain NUL characters")
        if _contains_surrogate(value):
            raise ValueError("text must be valid Unicode (no unpaired surrogates)")
        return value


def _strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [
            text for key, item in value.items() for text in (*_strings_in(key), *_strings_in(item))
        ]
    if isinstance(value, list | tuple):
        return [text for item in value for text in _strings_in(item)]
    return []


def _contains_nul(value: Any) -> bool:
    return any("\x00" in text for text in _strings_in(value))


def is_valid_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _contains_surrogate(value: Any) -> bool:
    return not all(is_valid_unicode(text) for text in _strings_in(value))


class ResponseModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        serialize_by_alias=True,
        validate_by_name=True,
        from_attributes=True,
    )

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)
