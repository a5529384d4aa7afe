"""Test-only launcher: notify that dies right after a provider answered, before the answer is recorded.

``uvicorn --factory tests.notify.crashing_notify:create_app`` (test_never_twice.py starts it through the
platform): the real ``notify.app.create_app``, with every provider wrapped so that the process exits
(``os._exit``, no cleanup, as a crash) as soon as a send returns.
"""

from __future__ import annotations

import logging
import os

import httpx
from fastapi import FastAPI

from notify import app as notify_app
from notify.providers.base import SendResult, SmsProvider
from notify.providers.selection import ProviderSelector
from notify.settings import NotifySettings

CRASH_EXIT_CODE = 86

log = logging.getLogger(__name__)


class DiesAfterSend:
    def __init__(self, provider: SmsProvider) -> None:
        self._provider = provider

    @property
    def name(self) -> str:
        return self._provider.name

    async def send(self, message_id: str, to_e164: str, body: str) -> SendResult:
        await self._provider.send(message_id, to_e164, body)
        log.critical("test crash: exiting after the provider call, before its answer is recorded")
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(CRASH_EXIT_CODE)


def create_app() -> FastAPI:
    build_selector = notify_app.build_selector  # type: ignore[attr-defined]  # the name app.py calls

    def crashing_selector(settings: NotifySettings, client: httpx.AsyncClient) -> ProviderSelector:
        selector: ProviderSelector = build_selector(settings, client)
        for state in selector.states:
            state.provider = DiesAfterSend(state.provider)
        return selector

    notify_app.build_selector = crashing_selector  # type: ignore[attr-defined]
    return notify_app.create_app()
