"""Routing: `uvicorn --factory routing.app:create_app` (settings from the environment)."""

from __future__ import annotations

from fastapi import FastAPI


def create_app() -> FastAPI:
    # Transitional: the wiring still lives in main.py until this service takes the common shape.
    from routing.main import app

    return app
