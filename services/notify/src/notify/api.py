"""Notify's HTTP API: the delivery-report webhook."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, Literal
from uuid import UUID

import asyncpg
from fastapi import FastAPI, Header
from mpp_kit.errors import ApiError
from pydantic import BaseModel, ConfigDict, Field

from notify import messages
from notify.providers.mapping import map_report_status


class DeliveryReport(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reference: str = Field(description="our message id, given to the provider when sending")
    provider_message_id: str | None = None
    status: str
    error_code: str | None = None


class DeliveryReports(BaseModel):
    reports: list[DeliveryReport] = Field(max_length=1000)


class ReportsAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    applied: int


def add_webhook(app: FastAPI, pool: Callable[[], asyncpg.Pool], token: Callable[[], str]) -> None:
    @app.post("/delivery-reports", tags=["webhooks"])
    async def delivery_reports(
        body: DeliveryReports, authorization: Annotated[str | None, Header()] = None
    ) -> ReportsAccepted:
        """Delivery reports from providers, in batches. Duplicates and unknown ids are answered 200 too."""
        expected = f"Bearer {token()}"
        if not token() or not authorization or not hmac.compare_digest(authorization, expected):
            raise ApiError(401, "unauthorized", "a valid bearer token is required")
        applied = 0
        async with pool().acquire() as conn, conn.transaction():
            for report in body.reports:
                try:
                    message_id = UUID(report.reference)
                except ValueError:
                    continue
                status = map_report_status(report.status)
                if await messages.set_status(
                    conn,
                    message_id,
                    status,
                    provider_message_id=report.provider_message_id,
                    error=report.error_code,
                ):
                    applied += 1
        return ReportsAccepted(applied=applied)
