"""When notify tries a failed webhook delivery again: the schedule, its jitter, Retry-After."""


def test_retry_after_reads_seconds_and_http_dates():
    from datetime import UTC, datetime

    from shared.usecases.notify import retry_after_seconds

    now = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds("Wed, 25 Nov 2026 12:01:30 GMT", now) == 90
    assert retry_after_seconds("Wed, 25 Nov 2026 11:00:00 GMT", now) == 0  # in the past: now
    assert retry_after_seconds("soon", now) is None and retry_after_seconds(None, now) is None


def test_next_attempt_follows_the_schedule_with_jitter_and_stops_when_spent():
    import random
    from datetime import UTC, datetime

    from shared.config import Settings
    from shared.models import PostAnswer
    from shared.usecases.notify import next_attempt_at

    settings = Settings(webhook_retry_schedule=[5, 300], webhook_retry_jitter=0.1)
    now = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    failed = PostAnswer(500, "HTTP 500", 10)
    rngs = [random.Random(i) for i in range(50)]  # noqa: S311 (jitter, not secrets)
    waits = [(next_attempt_at(settings, 1, failed, now, rng) - now).total_seconds() for rng in rngs]
    assert all(4.5 <= w <= 5.5 for w in waits) and max(waits) - min(waits) > 0.5  # jittered
    assert 270 <= (next_attempt_at(settings, 2, failed, now) - now).total_seconds() <= 330
    assert next_attempt_at(settings, 3, failed, now) is None  # the schedule is spent
    assert next_attempt_at(settings, 1, PostAnswer(410, "HTTP 410", 3), now) is None
    refused = PostAnswer(None, "10.0.0.1 resolves to a private address", 0, refused=True)
    assert next_attempt_at(settings, 1, refused, now) is None  # final, by its type, not its words
    asked = PostAnswer(429, "HTTP 429", 3, retry_after="60")
    assert 60 <= (next_attempt_at(settings, 1, asked, now) - now).total_seconds() <= 60.01
    greedy = PostAnswer(503, "HTTP 503", 3, retry_after="86400")  # capped at the schedule's longest wait
    assert (next_attempt_at(settings, 1, greedy, now) - now).total_seconds() == 300
