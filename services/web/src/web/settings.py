"""The web's settings, from environment variables only."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from mpp_kit.settings import ServiceSettings


class WebSettings(ServiceSettings):
    service_name: str = "web"
    # The catalogue's public API, e.g. http://catalog:8000.
    catalog_url: str = "http://127.0.0.1:8001"
    # Each site's intake, as `site=url` pairs separated by commas: `loa-kulu=http://intake-loa-kulu:8000,...`.
    intake_urls: str = ""
    # Signs the session cookie and the forms' CSRF tokens (any long random string). A secret.
    session_secret: SecretStr = SecretStr("")
    # Private key (PEM: Ed25519, or RSA for RS256) signing the short-lived tokens the console hands intake for
    # the logged-in operator; intake holds the public half (INTAKE_TOKEN_PUBLIC_KEY). A secret.
    token_signing_key: SecretStr = SecretStr("")
    token_issuer: str = "mpp-web"  # noqa: S105 - a name, not a secret
    token_audience: str = "mpp-intake"  # noqa: S105 - a name, not a secret
    token_ttl_s: int = Field(default=300, ge=30, le=900)
    # Operator accounts, as JSON (a list of {username, name, role, site, password_hash}) in ACCOUNTS, or in the
    # file ACCOUNTS_FILE. Passwords are argon2 hashes (`python -m web.accounts hash`). A secret.
    accounts: SecretStr = SecretStr("")
    accounts_file: Path | None = None
    # An operator's session lasts one working day at most.
    session_ttl_s: int = Field(default=10 * 3600, ge=60)
    # Cookies only over HTTPS. Off only for local development on plain http://127.0.0.1.
    cookie_secure: bool = True
    # Calls to catalog and intake: a counter cannot wait long.
    upstream_timeout_s: float = Field(default=8.0, gt=0)

    def intakes(self) -> dict[str, str]:
        """site slug -> its intake's base URL, in the order given."""
        found: dict[str, str] = {}
        for pair in self.intake_urls.split(","):
            site, _, url = pair.strip().partition("=")
            if site and url:
                found[site.strip()] = url.strip().rstrip("/")
        return found
