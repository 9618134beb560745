"""``List/{listId}/TransactionalMessage``: read the messages, send one with
merge values (once per request), resend it, and read what each email did;
every refusal in Listrak's words and codes, and each route's scopes."""

from __future__ import annotations

import json
import uuid

import pytest

from broadcasts.models import TransactionalSend
from contacts.models import Contact, SubscriptionState
from contacts.services import ban_address, suppress_addresses
from emails.models import Delivery, DeliveryStatus
from emails.tracking.engagement import Visitor, record_click, record_open
from tests.api_helpers import api_caller, assert_error
from tests.smtp import text_of
from tests.transactional_helpers import field_id, order_confirmation

pytestmark = pytest.mark.django_db


@pytest.fixture
def receipt(shop):
    return order_confirmation(shop)


@pytest.fixture
def sending(django_capture_on_commit_callbacks):
    """Runs what a request queues once it commits (its email goes then)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def path(receipt, tail: str = "") -> str:
    return f"List/{receipt.list_id}/TransactionalMessage/{receipt.pk}{tail}"


def body(shop, email: str = "ada@example.com", **values: object) -> dict:
    given = values or {"First Name": "Grace", "Points": "12"}
    return {
        "emailAddress": email,
        "segmentationFieldValues": [
            {"segmentationFieldId": field_id(shop, name), "value": value}
            for name, value in given.items()
        ],
    }


def written() -> tuple[int, int, int]:
    return TransactionalSend.objects.count(), Delivery.objects.count(), Contact.objects.count()


# --- Reading ------------------------------------------------------------------------


def test_it_lists_the_lists_transactional_messages(api, shop, receipt):
    from tests.factories import ListFactory

    order_confirmation(ListFactory(name="Other"), name="Elsewhere")
    receipt.external_campaign_id = "ext-7"
    receipt.save()

    response = api.get(f"List/{shop.pk}/TransactionalMessage")

    assert response.status_code == 200
    assert response.json() == {
        "status": 200,
        "data": [
            {
                "transactionalMessageId": receipt.pk,
                "transactionalMessageName": "Order confirmation",
                "campaignId": None,
                "externalCampaignId": "ext-7",
                "subject": "Order confirmed, {{ profile.first_name }}",
            }
        ],
    }


def test_it_returns_one_and_names_a_bad_or_unknown_id(api, shop, receipt):
    assert api.get(path(receipt)).json()["data"]["transactionalMessageId"] == receipt.pk
    assert_error(
        api.get(f"List/{shop.pk}/TransactionalMessage/999"),
        404,
        "ERROR_UNABLE_TO_LOCATE_RESOURCE",
        "listId and transactionalMessageId",
    )
    assert_error(
        api.get(f"List/{shop.pk}/TransactionalMessage/x"),
        400,
        "ERROR_INVALID_PARAMETER",
        "transactionalMessageId",
    )
    assert_error(api.get("List/999/TransactionalMessage"), 404, "ERROR_UNABLE_TO_LOCATE_RESOURCE")


# --- Sending ------------------------------------------------------------------------


def test_a_send_answers_its_resend_key_and_the_email_shows_the_values(
    api, shop, receipt, smtp_server, sending
):
    with sending():
        response = api.post(path(receipt, "/Message"), body(shop))

    assert response.status_code == 201, response.content
    key = response.json()["resourceId"]
    assert str(uuid.UUID(key)) == key  # a UUID, as Listrak's resendKey
    (email,) = smtp_server.messages
    assert email["To"] == "ada@example.com"
    assert "Thank you, Grace: you now have 12 points." in text_of(email)
    send = TransactionalSend.objects.get()
    assert send.resend_key == uuid.UUID(key).hex
    assert Delivery.objects.get().status == DeliveryStatus.SENT


def test_the_same_request_again_gets_the_same_answer_and_no_second_email(
    api, shop, receipt, smtp_server, sending
):
    with sending():
        first = api.post(path(receipt, "/Message"), body(shop), HTTP_IDEMPOTENCY_KEY="order-1")
        again = api.post(path(receipt, "/Message"), body(shop), HTTP_IDEMPOTENCY_KEY="order-1")
        # Without the header: the same body (its fields in another order) within the window.
        plain = api.post(
            path(receipt, "/Message"), body(shop, Points="12", **{"First Name": "Grace"})
        )
        plain_again = api.post(path(receipt, "/Message"), body(shop))

    assert first.status_code == again.status_code == 201
    assert again.json()["resourceId"] == first.json()["resourceId"]
    assert plain.json()["resourceId"] == plain_again.json()["resourceId"]
    assert plain.json()["resourceId"] != first.json()["resourceId"]
    assert len(smtp_server.messages) == 2


def test_another_idempotency_key_or_client_sends_again(api, shop, receipt, smtp_server, sending):
    with sending():
        api.post(path(receipt, "/Message"), body(shop), HTTP_IDEMPOTENCY_KEY="order-1")
        api.post(path(receipt, "/Message"), body(shop), HTTP_IDEMPOTENCY_KEY="order-2")
        api_caller(name="other shop backend").post(path(receipt, "/Message"), body(shop))

    assert len(smtp_server.messages) == 3


def test_with_no_retry_window_every_post_sends(api, shop, receipt, smtp_server, sending, settings):
    settings.TRANSACTIONAL_RETRY_SECONDS = 0
    with sending():
        api.post(path(receipt, "/Message"), body(shop))
        api.post(path(receipt, "/Message"), body(shop))

    assert len(smtp_server.messages) == 2


def test_an_unsubscribed_contact_is_sent_to_and_a_new_address_never_subscribes(
    api, shop, receipt, smtp_server, sending
):
    from tests.factories import ContactFactory

    ContactFactory(
        list=shop,
        email="gone@example.com",
        state=SubscriptionState.UNSUBSCRIBED,
        subscribed_at=None,
        unsubscribed_at="2026-01-01T00:00:00Z",
    )
    with sending():
        assert (
            api.post(path(receipt, "/Message"), body(shop, "gone@example.com")).status_code == 201
        )
        assert api.post(path(receipt, "/Message"), body(shop, "new@example.com")).status_code == 201

    assert sorted(m["To"] for m in smtp_server.messages) == ["gone@example.com", "new@example.com"]
    assert Contact.objects.get(email="new@example.com").state == SubscriptionState.NEVER_SUBSCRIBED


@pytest.mark.parametrize(
    ("block", "code"),
    [
        (
            lambda shop: ban_address(email_list=shop, email="bo@example.com"),
            "ERROR_BANNED_EMAIL_ADDRESS",
        ),
        (lambda shop: suppress_addresses(emails=["bo@example.com"]), "ERROR_SUPPRESSED_EMAIL"),
    ],
)
def test_a_banned_or_suppressed_address_is_refused_with_listraks_code(
    api, shop, receipt, smtp_server, sending, block, code
):
    block(shop)
    before = written()

    with sending():
        response = api.post(path(receipt, "/Message"), body(shop, "bo@example.com"))

    assert_error(response, 400, code, "bo@example.com")
    assert written() == before
    assert smtp_server.messages == []


@pytest.mark.parametrize(
    ("payload", "code", "words"),
    [
        ({}, "ERROR_INVALID_PARAMETER", "emailAddress"),
        ({"emailAddress": "not an address"}, "ERROR_INVALID_PARAMETER", "emailAddress"),
        ({"emailAddress": 12}, "ERROR_INVALID_PARAMETER", "emailAddress"),
        ({"emailAddress": "a@example.com", "colour": "red"}, "ERROR_INVALID_PARAMETER", "'colour'"),
        (
            {
                "emailAddress": "a@example.com",
                "segmentationFieldValues": [{"segmentationFieldId": 99999, "value": "x"}],
            },
            "ERROR_INVALID_PARAMETER",
            "segmentationFieldValues",
        ),
        (
            {
                "emailAddress": "a@example.com",
                "segmentationFieldValues": [{"segmentationFieldId": "x", "value": "x"}],
            },
            "ERROR_INVALID_PARAMETER",
            "segmentationFieldId",
        ),
        (
            {"emailAddress": "a@example.com", "segmentationFieldValues": {}},
            "ERROR_INVALID_PARAMETER",
            "segmentationFieldValues",
        ),
        ([], "ERROR_MALFORMED_REQUEST_BODY", "JSON object"),
    ],
)
def test_a_bad_body_is_refused_by_name_and_nothing_is_written(api, receipt, payload, code, words):
    before = written()

    response = api.post(path(receipt, "/Message"), payload)

    assert_error(response, 400, code, words)
    assert written() == before


def test_a_value_that_does_not_fit_its_field_is_refused_naming_the_field(api, shop, receipt):
    response = api.post(path(receipt, "/Message"), body(shop, Points="lots"))

    assert_error(response, 400, "ERROR_INVALID_PARAMETER", "segmentationFieldValues", "Points")
    assert written() == (0, 0, 0)


def test_a_field_given_twice_is_listraks_defined_twice(api, shop, receipt):
    twice = body(shop)
    twice["segmentationFieldValues"].append(twice["segmentationFieldValues"][0])

    response = api.post(path(receipt, "/Message"), twice)

    assert_error(response, 400, "ERROR_SEGMENTATION_FIELD_DEFINED_TWICE", "given twice")


def test_a_message_with_a_system_link_is_refused_with_listraks_code(api, shop):
    receipt = order_confirmation(shop, text_body="Hi. Leave: {{ links.unsubscribe }}")

    response = api.post(path(receipt, "/Message"), body(shop))

    assert_error(response, 400, "ERROR_TRANSACTIONAL_MESSAGE_SYSTEM_LINK", "unsubscribe link")


def test_a_reused_idempotency_key_for_another_email_or_a_bad_one_is_refused(api, shop, receipt):
    api.post(path(receipt, "/Message"), body(shop), HTTP_IDEMPOTENCY_KEY="order-1")

    other = api.post(
        path(receipt, "/Message"), body(shop, "bob@example.com"), HTTP_IDEMPOTENCY_KEY="order-1"
    )
    long = api.post(path(receipt, "/Message"), body(shop), HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert_error(other, 400, "ERROR_INVALID_PARAMETER", "Idempotency-Key was used before")
    assert_error(long, 400, "ERROR_INVALID_PARAMETER", "Idempotency-Key")
    assert TransactionalSend.objects.count() == 1


def test_a_body_that_is_not_json_is_refused(api, receipt):
    assert_error(
        api.call("POST", path(receipt, "/Message"), raw=b"{nope"),
        400,
        "ERROR_MALFORMED_REQUEST_BODY",
    )
    assert_error(
        api.call("POST", path(receipt, "/Message"), raw=b"{}", content_type="text/plain"),
        415,
        "ERROR_UNSUPPORTED_CONTENT_TYPE",
    )


def test_another_lists_message_is_not_found(api, shop, receipt):
    from tests.factories import ListFactory

    other = ListFactory(name="Other")
    response = api.post(f"List/{other.pk}/TransactionalMessage/{receipt.pk}/Message", body(shop))

    assert_error(response, 404, "ERROR_UNABLE_TO_LOCATE_RESOURCE", "transactionalMessageId")


# --- Resending ----------------------------------------------------------------------


def test_a_send_is_resent_to_its_address_or_forwarded(api, shop, receipt, smtp_server, sending):
    with sending():
        key = api.post(path(receipt, "/Message"), body(shop)).json()["resourceId"]
        again = api.post(path(receipt, f"/Resend/{key}"), {})
        forwarded = api.post(path(receipt, f"/Resend/{key}?forwardAddress=Desk@Example.com"), {})

    assert again.status_code == forwarded.status_code == 201, again.content
    assert len({key, again.json()["resourceId"], forwarded.json()["resourceId"]}) == 3
    assert [m["To"] for m in smtp_server.messages] == [
        "ada@example.com",
        "ada@example.com",
        "desk@example.com",
    ]
    assert all("Thank you, Grace" in text_of(m) for m in smtp_server.messages)


def test_a_resend_takes_no_body_at_all_and_its_key_without_hyphens(api, shop, receipt):
    key = api.post(path(receipt, "/Message"), body(shop)).json()["resourceId"]

    # What a client posting nothing sends: no body, no Content-Type to speak of.
    response = api.http.generic(
        "POST",
        f"/email/v1/{path(receipt, f'/Resend/{uuid.UUID(key).hex}')}",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )

    assert response.status_code == 201, response.content
    assert TransactionalSend.objects.count() == 2


def test_resend_refusals_name_the_key_the_address_and_the_body(api, shop, receipt):
    key = api.post(path(receipt, "/Message"), body(shop)).json()["resourceId"]
    before = written()

    assert_error(
        api.post(path(receipt, f"/Resend/{uuid.uuid4()}"), {}),
        404,
        "ERROR_UNABLE_TO_LOCATE_RESOURCE",
        "listId, transactionalMessageId, and resendKey",
    )
    assert_error(
        api.post(path(receipt, "/Resend/nope"), {}), 400, "ERROR_INVALID_PARAMETER", "resendKey"
    )
    assert_error(
        api.post(path(receipt, f"/Resend/{key}?forwardAddress=nope"), {}),
        400,
        "ERROR_INVALID_PARAMETER",
        "forwardAddress",
    )
    assert_error(
        api.post(path(receipt, f"/Resend/{key}"), {"forwardAddress": "a@example.com"}),
        400,
        "ERROR_INVALID_PARAMETER",
        "query string",
    )
    suppress_addresses(emails=["ada@example.com"])
    assert_error(api.post(path(receipt, f"/Resend/{key}"), {}), 400, "ERROR_SUPPRESSED_EMAIL")
    assert written() == before


# --- Activity ----------------------------------------------------------------------


def sent_to(api, shop, receipt, sending, *emails: str) -> dict[str, str]:
    """Send the receipt to each address; ``{address: its resend key}``."""
    keys = {}
    with sending():
        for email in emails:
            keys[email] = api.post(path(receipt, "/Message"), body(shop, email)).json()[
                "resourceId"
            ]
    return keys


def test_the_activity_lists_each_sent_email_with_its_resend_key(
    api, shop, receipt, smtp_server, sending
):
    keys = sent_to(api, shop, receipt, sending, "ada@example.com", "bob@example.com")
    ada = Delivery.objects.get(contact__email="ada@example.com")
    record_open(ada, Visitor())
    record_click(ada, Visitor())

    response = api.get(path(receipt, "/Activity"))

    assert response.status_code == 200
    page = response.json()
    assert page["nextPageCursor"] is None
    rows = {row["emailAddress"]: row for row in page["data"]}
    assert rows["ada@example.com"]["resendKey"] == keys["ada@example.com"]
    assert rows["ada@example.com"]["open"] is True
    assert rows["ada@example.com"]["clickCount"] == 1
    assert rows["ada@example.com"]["sendDate"] is not None
    assert rows["bob@example.com"]["open"] is False
    assert set(rows["bob@example.com"]) == {
        "abuse", "activityDate", "bounce", "bounceReason", "click", "clickCount", "emailAddress",
        "open", "orderTotal", "read", "sendDate", "unsubscribe", "visitDate",
        "externalContactID", "resendKey",
    }  # fmt: skip


def test_the_activity_filters_by_type_address_dates_and_pages(
    api, shop, receipt, smtp_server, sending
):
    sent_to(api, shop, receipt, sending, "ada@example.com", "bob@example.com")
    record_open(Delivery.objects.get(contact__email="bob@example.com"), Visitor())
    activity = path(receipt, "/Activity")

    opened = api.get(f"{activity}?activityType=Open").json()["data"]
    ada = api.get(f"{activity}?emailAddress=ADA@example.com").json()["data"]
    long_ago = api.get(f"{activity}?startDate=2000-01-01&endDate=2000-01-02").json()["data"]
    by_activity = api.get(f"{activity}?dateType=Activity&startDate=2000-01-01").json()["data"]
    first = api.get(f"{activity}?count=1").json()
    second = api.get(f"{activity}?count=1&cursor={first['nextPageCursor']}").json()

    assert [r["emailAddress"] for r in opened] == ["bob@example.com"]
    assert [r["emailAddress"] for r in ada] == ["ada@example.com"]
    assert long_ago == []
    assert [r["emailAddress"] for r in by_activity] == ["bob@example.com"]
    assert [r["emailAddress"] for r in first["data"] + second["data"]] == [
        "ada@example.com",
        "bob@example.com",
    ]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("activityType=Read", "activityType"),
        ("dateType=Sent", "dateType"),
        ("emailAddress=nope", "emailAddress"),
        ("startDate=yesterday", "startDate"),
        ("count=0", "count"),
    ],
)
def test_bad_activity_parameters_are_refused_by_name(api, receipt, query, words):
    assert_error(
        api.get(path(receipt, f"/Activity?{query}")), 400, "ERROR_INVALID_PARAMETER", words
    )


# --- Scopes and the description ---------------------------------------------------------


def test_each_route_needs_its_scopes(db, shop, receipt):
    no_message = api_caller(["List", "Report"], name="no message")
    no_report = api_caller(["List", "Message"], name="no report")

    for method, tail in [("GET", ""), ("POST", "/Message"), ("POST", f"/Resend/{uuid.uuid4()}")]:
        response = no_message.call(
            method, path(receipt, tail), body(shop) if method == "POST" else None
        )
        assert_error(response, 401, "ERROR_UNAUTHORIZED", "Message")
    assert_error(no_report.get(path(receipt, "/Activity")), 401, "ERROR_UNAUTHORIZED", "Report")
    assert no_report.get(path(receipt)).status_code == 200
    assert written() == (0, 0, 0)


def test_the_description_names_each_operation_as_listrak_does(api):
    with open("/work/shared/reference/listrak-email-api-v1.swagger.json") as file:
        reference = json.load(file)
    served = api.http.get("/email/v1/schema/?format=json").json()
    wanted = {
        (path.removeprefix("/v1"), method, op["operationId"], tuple(op["security"][0]["OAuth 2"]))
        for path, operations in reference["paths"].items()
        for method, op in operations.items()
        if "/TransactionalMessage" in path
    }
    assert len(wanted) == 5
    found = {
        (
            path.removeprefix("/email/v1"),
            method,
            op["operationId"],
            tuple(next(iter(op.get("security", [{"OAuth2": []}])[0].values()))),
        )
        for path, operations in served["paths"].items()
        for method, op in operations.items()
    }
    assert wanted <= found, wanted - found
