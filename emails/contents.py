"""What a published conversation version sends: its messages' content as it
was when the version was published (``MessageContent``). Editing a message
then changes what working versions and tests send, never what reaches the
contacts inside a published version."""

from __future__ import annotations

from emails.models import CONTENT_FIELDS, Delivery, Message, MessageContent


def freeze(message: Message) -> MessageContent:
    """``message``'s content as it is now, saved once: its latest frozen
    content when nothing changed since."""
    latest = message.contents.order_by("-id").first()
    if latest is not None and not latest.differs_from(message):
        return latest
    return MessageContent.objects.create(
        message=message, **{name: getattr(message, name) for name in CONTENT_FIELDS}
    )


def as_sent(message: Message, content: MessageContent | None) -> Message:
    """``message`` with ``content``'s subject, bodies and sender (itself when
    there is none): an unsaved stand-in that rendering reads, never saved."""
    if content is None:
        return message
    sent = Message(
        pk=message.pk,
        list_id=message.list_id,
        name=message.name,
        reply_email=message.reply_email,  # not frozen: where replies go is no content
        created_at=message.created_at,
        **{name: getattr(content, name) for name in CONTENT_FIELDS},
    )
    if Message.list.is_cached(message):
        sent.list = message.list
    return sent


def sent_message(delivery: Delivery) -> Message:
    """The message as ``delivery`` sends it: its frozen content, if any."""
    return as_sent(delivery.message, delivery.content)
