"""Bodies of the notify API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Unsubscribed(BaseModel):
    unsubscribed: str = Field(description="The notification type no longer e-mailed")
    scope: Literal["person", "address"] = Field(
        description="person: their preference is now off; address: an invited address "
        "gets no more invitation mail"
    )
