"""What the API shows of the outbox: `notifications.schemas`, listed in a `Page`."""

from notifications.schemas import MessageRead, ReplyRead

__all__ = ["MessageRead", "ReplyRead"]
