"""API key wire models: the plaintext appears only in the creation response."""

import uuid

from payments_core.api_keys.models import ApiKey
from payments_core.schemas import ResponseModel, Timestamp


class ApiKeyOut(ResponseModel):
    id: uuid.UUID
    prefix: str
    last_four: str
    mode: str
    created_at: Timestamp
    revoked_at: Timestamp | None

    @classmethod
    def of(cls, key: ApiKey) -> "ApiKeyOut":
        return cls(
            id=key.id,
            prefix=key.prefix,
            last_four=key.last_four,
            mode=key.mode,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


class IssuedApiKeyOut(ApiKeyOut):
    api_key: str

    @classmethod
    def issued(cls, key: ApiKey, plaintext: str) -> "IssuedApiKeyOut":
        return cls(**ApiKeyOut.of(key).model_dump(), api_key=plaintext)
