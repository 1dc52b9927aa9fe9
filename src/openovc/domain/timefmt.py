"""The API's timestamp text: UTC `yyyy-MM-ddTHH:mm:ssZ`, and `NA` for no time."""

from __future__ import annotations

from datetime import UTC, datetime

NA = "NA"
EPOCH_TEXT = "1970-01-01T00:00:00Z"


def epoch_ms(when: datetime) -> int:
    """Milliseconds since the Unix epoch: how the store keeps instants it compares (due times, beats)."""
    return int(when.timestamp() * 1000)


def to_text(when: datetime) -> str:
    """Format an aware datetime as the API does (seconds precision, Z)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse(text: str) -> datetime:
    """Parse ISO-8601 (Z or offset; date-only means midnight UTC); raises ValueError."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def from_text(text: str) -> datetime:
    """Read back a stored timestamp text."""
    return parse(text)
