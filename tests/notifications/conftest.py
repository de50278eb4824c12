"""Stand-ins for the providers, and providers of ours pointed at them."""

from collections.abc import Iterator

import pytest

from notifications.providers import NotifyProvider, TwilioProvider
from tests.notifications.standins import NotifyStandIn, TwilioStandIn


@pytest.fixture
def notify_standin() -> Iterator[NotifyStandIn]:
    with NotifyStandIn() as standin:
        yield standin
    assert standin.problems == []


@pytest.fixture
def twilio_standin() -> Iterator[TwilioStandIn]:
    with TwilioStandIn() as standin:
        yield standin
    assert standin.problems == []


def notify_for(standin: NotifyStandIn, timeout: float = 5.0) -> NotifyProvider:
    return NotifyProvider(standin.api_key, standin.template_id, standin.base_url,
                          timeout=timeout)


def twilio_for(standin: TwilioStandIn, timeout: float = 5.0) -> TwilioProvider:
    return TwilioProvider(standin.account_sid, standin.auth_token, standin.sender,
                          standin.base_url, status_url="https://lending.example/cb",
                          timeout=timeout)


@pytest.fixture
def notify(notify_standin) -> Iterator[NotifyProvider]:
    provider = notify_for(notify_standin)
    yield provider
    provider.close()


@pytest.fixture
def twilio(twilio_standin) -> Iterator[TwilioProvider]:
    provider = twilio_for(twilio_standin)
    yield provider
    provider.close()
