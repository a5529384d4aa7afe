from __future__ import annotations

from mpp_kit.settings import ServiceSettings
from pydantic import Field, SecretStr


class NotifySettings(ServiceSettings):
    service_name: str = "notify"
    # The provider adapter used for sending ("twilio" speaks Twilio's Messages API; the sandbox speaks it too).
    sms_provider: str = "twilio"
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_from: str = "MPP"
    # Where providers post delivery reports (our public webhook URL); our message id is added as `reference`.
    sms_status_callback_url: str | None = None
    # Bearer token the delivery-report webhook requires. A secret.
    delivery_report_token: SecretStr = SecretStr("")
    sms_send_attempts: int = Field(default=5, ge=1)
    sms_dispatch_interval_s: float = Field(default=0.5, gt=0)
