"""What the web's routes stand on, built once by `create_app` and kept as `app.state.context`."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi.templating import Jinja2Templates

from web.accounts import Account, LoginThrottle
from web.clients import Catalog, Intake, SiteDirectory
from web.security import IntakeTokens, Sessions
from web.settings import WebSettings


@dataclass(frozen=True)
class WebContext:
    settings: WebSettings
    http: httpx.AsyncClient
    templates: Jinja2Templates
    accounts: dict[str, Account]
    sessions: Sessions
    intake_tokens: IntakeTokens
    catalog: Catalog
    intakes: dict[str, Intake]  # by site slug
    sites: SiteDirectory
    logins: LoginThrottle

    def intake(self, site: str) -> Intake | None:
        return self.intakes.get(site)
