"""The long-polling loop's knobs, from the environment like every other setting.

Separate from the service settings so any consumer process can load it next to its own class.
"""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsumerSettings(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    # SQS long polling: 20 s (the maximum) against real AWS; the emulator may use a shorter wait.
    sqs_wait_seconds: int = Field(default=20, ge=0, le=20)
    # How long a received message stays hidden, renewed while its handler works; unset means the
    # queue's own VisibilityTimeout.
    sqs_visibility_timeout: int | None = Field(default=None, ge=1, le=43_200)
    # How long a stopping consumer lets in-flight records finish before abandoning them to SQS.
    sqs_drain_seconds: float = Field(default=25.0, gt=0, le=3600)
