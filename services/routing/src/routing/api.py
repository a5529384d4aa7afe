"""Routing's HTTP is ops-only for now: the kit's /healthz, /readyz and /metrics (added by mpp_kit.http.create_app).
Routing's own ops read API (decisions, appointments) will be routes on this router."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
