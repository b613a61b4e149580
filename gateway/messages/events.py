"""The CloudEvent wrapper as a model: for schemas and for readers, not for building events."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from gateway.messages.results import ResultData

__all__ = ["CloudEvent", "ResultEvent"]

DataT = TypeVar("DataT")


class CloudEvent(BaseModel, Generic[DataT]):
    """A structured-mode CloudEvent 1.0."""

    model_config = ConfigDict(extra="allow")

    specversion: str = Field("1.0", pattern=r"^1\.0$")
    id: str
    source: str
    type: str
    subject: str | None = None
    time: str | None = None
    datacontenttype: str = "application/json"
    traceparent: str | None = Field(None, description="W3C trace context (distributed tracing)")
    data: DataT


class ResultEvent(CloudEvent[ResultData]):
    """`<prefix>.command.succeeded|failed|rejected` on the results topic."""
