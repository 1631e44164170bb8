"""What Herald's errors become in Temporal: the worker's one translation."""

from __future__ import annotations

from datetime import timedelta

import pytest

from activities.errors import as_application_error
from herald.errors import Conflict, InvalidInput, NotFound, StillRunning, TooManyRequests
from herald.messaging.providers import ProviderError

pytestmark = pytest.mark.fast


@pytest.mark.parametrize("error", [NotFound("gone"), Conflict("taken"), InvalidInput("bad")])
def test_a_domain_error_fails_at_once_carrying_its_type(error: Exception) -> None:
    translated = as_application_error(error)  # type: ignore[arg-type]
    assert translated.non_retryable
    assert translated.type == type(error).__name__
    assert translated.message == str(error)


@pytest.mark.parametrize("error", [TooManyRequests("slow down"), StillRunning("later")])
def test_what_passes_with_time_is_retried(error: Exception) -> None:
    assert not as_application_error(error).non_retryable  # type: ignore[arg-type]


def test_a_provider_s_later_is_retried_at_its_pace_and_its_refusal_is_not() -> None:
    later = as_application_error(ProviderError("429", retryable=True, retry_after_s=30))
    assert (later.non_retryable, later.next_retry_delay) == (False, timedelta(seconds=30))
    refused = as_application_error(ProviderError("400 bad address", retryable=False))
    assert refused.non_retryable
