"""SMS provider adapters: each speaks one provider's real HTTP API behind the ``SmsProvider`` contract."""

from notify.providers.base import SendResult, SmsProvider, TemporaryProviderError
from notify.providers.twilio import TwilioProvider
from notify.providers.zenziva import ZenzivaProvider

__all__ = [
    "SendResult",
    "SmsProvider",
    "TemporaryProviderError",
    "TwilioProvider",
    "ZenzivaProvider",
]
