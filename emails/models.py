"""Messages, their links, and their deliveries: one email to one contact,
written by whatever sends it (a Conductor Message step today) and sent by
``emails.sending.delivery``."""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts.models import Contact
from emails.html_body import inlining_problem
from emails.template_checks import message_problems
from lists.models import List, ProfileField


class Message(models.Model):
    """An email of a list: Django templates for subject, HTML and text, with
    merge fields for profile values, the coupon and the trigger."""

    list = models.ForeignKey(List, on_delete=models.PROTECT, related_name="messages")
    name = models.CharField(max_length=200)
    subject = models.CharField(max_length=500)
    html_body = models.TextField(blank=True)
    text_body = models.TextField(
        blank=True, help_text="Made from the HTML body when blank, with the same tracked links."
    )
    from_name = models.CharField(max_length=200, blank=True, help_text="The list's when blank.")
    from_email = models.EmailField(blank=True, help_text="The list's when blank.")
    reply_email = models.EmailField(
        "reply-to address", blank=True, help_text="Where replies go; the from address when blank."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse, on the field holding it, a template that does not compile
        or names a merge field its list lacks, and a tracked link whose
        address comes from a merge field (``emails.template_checks``); a
        message with no body; and an HTML body whose ``<style>`` rules cannot
        be inlined without moving its template syntax (``emails.html_body``)."""
        fields = ProfileField.objects.filter(list_id=self.list_id) if self.list_id else None
        problems = message_problems(self, fields)
        if not self.html_body.strip() and not self.text_body.strip():
            problems.setdefault("text_body", []).append(
                "Write an HTML body or a text body (or both)."
            )
        if "html_body" not in problems and (inlining := inlining_problem(self.html_body)):
            problems["html_body"] = [inlining]
        if problems:
            raise ValidationError(problems)


#: What a message's content is (what a published version freezes of it), by its name in words.
CONTENT_FIELDS = {
    "subject": "subject",
    "html_body": "HTML body",
    "text_body": "text body",
    "from_name": "from name",
    "from_email": "from address",
}


class MessageContent(models.Model):
    """A message's content as it was when a conversation version sending it
    was published (``emails.contents.freeze``): the emails of that version
    are rendered from it, whatever the message says since. Never changed."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="contents")
    subject = models.CharField(max_length=500)
    html_body = models.TextField(blank=True)
    text_body = models.TextField(blank=True)
    from_name = models.CharField(max_length=200, blank=True)
    from_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["message_id", "-id"]

    def __str__(self) -> str:
        return f"{self.message} as of {self.created_at:%Y-%m-%d %H:%M} UTC"

    def differs_from(self, message: Message) -> list[str]:
        """The names of the content fields in which ``message`` now differs."""
        return [
            words
            for name, words in CONTENT_FIELDS.items()
            if getattr(self, name) != getattr(message, name)
        ]


class DeliveryStatus(models.TextChoices):
    PENDING = "Pending"
    SENDING = "Sending"  # claimed by a worker, not yet handed to the mail server
    HANDED = "Handed"  # handed to the mail server; its answer not yet recorded
    SENT = "Sent"
    #: Not sent, for good (the reason in ``error``): the contact unsubscribed,
    #: banned or suppressed at send time, the message could not be rendered,
    #: or the mail server refused it with a 5xx.
    SKIPPED = "Skipped"
    #: The worker stopped (or the connection dropped) while the mail server
    #: had the email: it may or may not have gone out. Never sent again
    #: unless staff choose to resend it (Conductor, Deliveries).
    UNCERTAIN = "Uncertain"
    FAILED = "Failed"  # emails left Sending by workers before Handed existed


#: The statuses of a delivery whose email may have reached its contact: its
#: opens, clicks, bounces and complaints count.
MAY_HAVE_GONE_OUT = (DeliveryStatus.SENT, DeliveryStatus.UNCERTAIN, DeliveryStatus.FAILED)


class Delivery(models.Model):
    """One email to one contact: written by its source in the transaction
    that decides to send it, sent after that commits by whichever worker
    claims it first (``emails.sending.delivery``). At most once: only the
    emails a worker has handed to its connections and not yet heard back
    about (at most two per connection: ``2 * EMAIL_CONNECTIONS`` per worker)
    can be left ``Uncertain`` by a crash; the rest of its claim goes back to
    ``Pending`` for another worker.

    Its source is the row that asked for it (a Conductor step run today; a
    broadcast or a transactional send later), at most one email per source.
    The source supplies what the email needs of it: merge fields of its own
    (``merge_context``, such as the trigger) and what names it in every
    activity of the email (``details``, such as the conversation). The
    sending never looks back at the source, so this app knows no sender."""

    # Indexed by the unique constraint below, which leads with it.
    source_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    source_id = models.PositiveBigIntegerField()
    source = GenericForeignKey("source_type", "source_id")
    message = models.ForeignKey(Message, on_delete=models.PROTECT, related_name="deliveries")
    #: The frozen content it is rendered from (its source's published one);
    #: none: the message as it is when sent.
    content = models.ForeignKey(
        MessageContent,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # read by id only; content rows are never deleted while used
        editable=False,
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    #: The claim of the worker sending it; on a Sent delivery, set until its
    #: "sent" activity is recorded (a worker that dies leaves that to the sweep).
    claim_token = models.CharField(max_length=32, blank=True, default="", editable=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    #: How many times the mail server refused it for now (a 4xx); after
    #: ``EMAIL_TEMPORARY_RETRIES`` more, it is refused for good.
    attempts = models.PositiveSmallIntegerField(
        "refused for now", default=0, editable=False, help_text="Times, so far."
    )
    #: Pending again after such a refusal: not claimed before this time.
    retry_at = models.DateTimeField("tried again at", null=True, blank=True, editable=False)
    #: Before sending, the merge fields its source supplies (``trigger``);
    #: once rendered, every merge field the email was rendered with, so its
    #: browser version and its links show what the contact received, not
    #: today's profile.
    merge_context = models.JSONField(default=dict, blank=True, editable=False)
    #: What names the email's source in each of its activities, after
    #: ``message_id`` and ``delivery_id`` (``{"conversation_id": 7}``).
    details = models.JSONField(default=dict, blank=True, editable=False)
    #: The subject as rendered for the contact: what Segment reports of every
    #: activity of this email (empty for emails sent before it was kept).
    subject = models.TextField(blank=True, editable=False)
    #: Not marketing (an order confirmation, a password reset): sent whatever
    #: the contact's subscription, though never to a banned or suppressed
    #: address, and claimed ahead of every marketing email.
    transactional = models.BooleanField(default=False, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="delivery_status_valid"
            ),
            # One email per source and contact: a step run has one contact, a
            # broadcast one email for each of its contacts.
            models.UniqueConstraint(
                fields=["source_type", "source_id", "contact"],
                name="delivery_once_per_source_contact",
            ),
        ]
        indexes = [
            # Led by the status: a claim reads the Pending ones oldest first, and
            # the sweep the few Sending or Handed ones, each without the others.
            models.Index(
                fields=["status", "created_at"],
                name="delivery_unsent",
                condition=Q(status__in=["Pending", "Sending", "Handed"]),
            ),
            # The transactional lane, claimed before the rest: a handful of rows.
            models.Index(
                fields=["created_at"],
                name="delivery_transactional_due",
                condition=Q(status="Pending", transactional=True),
            ),
            # Sent emails whose activity is not yet recorded: a handful at a time.
            models.Index(
                fields=["claim_expires_at"],
                name="delivery_sent_unrecorded",
                condition=Q(status="Sent") & ~Q(claim_token=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message} to {self.contact}: {self.status}"


class MessageLink(models.Model):
    """A link of a message, as written in its template: the stable id that
    tracked links and click reports name. A tracked link can only lead to
    one of these, rendered for the contact who clicked."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="links")
    url = models.TextField(help_text="The link's address as written in the template.")
    #: sha256 of ``url``: unique per message without indexing long text.
    url_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["message_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["message", "url_hash"], name="message_link_once"),
        ]

    def __str__(self) -> str:
        return self.url


class BlockType(models.TextChoices):
    SAVED = "SavedContent", "Saved content"
    DYNAMIC = "DynamicContent", "Dynamic content"


class ContentFolder(models.Model):
    """A folder of the content library (Listrak's ``ContentFolder``): of the
    whole account, or of one list; inside another folder or at the root."""

    name = models.CharField(max_length=200)
    list = models.ForeignKey(
        List, on_delete=models.CASCADE, null=True, blank=True, related_name="content_folders"
    )
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="folders"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class ContentBlock(models.Model):
    """A reusable block of the content library (Listrak's ``Content``): any
    message uses it as the merge field ``{{ content.<key> }}``, its HTML in
    the HTML body and its text in the text body, as it is when the email is
    rendered."""

    name = models.CharField(max_length=200)
    #: What messages name it by (``{{ content.footer }}``); never changed, so
    #: renaming a block breaks no message.
    key = models.SlugField(max_length=100, unique=True, allow_unicode=False)
    folder = models.ForeignKey(
        ContentFolder, on_delete=models.SET_NULL, null=True, blank=True, related_name="blocks"
    )
    content_type = models.CharField(
        max_length=20, choices=BlockType.choices, default=BlockType.SAVED
    )
    html = models.TextField("HTML", blank=True)
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    modified_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "content block"
        constraints = [
            models.CheckConstraint(
                condition=Q(content_type__in=BlockType.values),
                name="content_block_type_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MailboxEmail(models.Model):
    """An email the development mailbox (``emails.mailbox``) kept instead of
    sending it: who it was for, and the whole message as it would have gone."""

    sender = models.TextField(blank=True)
    recipients = models.TextField(verbose_name="to", help_text="Every recipient, Bcc included.")
    subject = models.TextField(blank=True)
    #: The message as Django's ``message().as_bytes()`` writes it.
    raw = models.BinaryField()
    created_at = models.DateTimeField("sent", default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "mailbox email"
        verbose_name_plural = "development mailbox"

    def __str__(self) -> str:
        return self.subject or "(no subject)"
