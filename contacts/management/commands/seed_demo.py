"""Demo data for a first look: one list, typed profile fields, a few hundred
contacts, a staff user, and what the other apps add (``contacts.demo``: a
published welcome series and an abandoned-cart conversation with a week of
history). Running it again changes nothing (a password
given anew is set; the same one keeps the user's sessions)."""

from __future__ import annotations

import datetime
import random

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from contacts.demo import seed_more
from contacts.models import SubscribeMethod, UnsubscribeMethod
from contacts.services import UpdateType, subscribe_contacts, unsubscribe_contacts, update_profiles
from lists.models import DataType, List
from lists.services import create_event, create_field, create_field_group, create_list

LIST_NAME = "Demo Store Newsletter"
FIELDS = [
    ("First Name", DataType.TEXT, 50),
    ("Last Name", DataType.TEXT, 50),
    ("Birthday", DataType.DATE, 10),
    ("Loyalty Points", DataType.NUMERIC, 12),
    ("VIP", DataType.CHECK_BOX, 3),
    ("Favourite Category", DataType.RADIO_BUTTON, 3),
]
FIRST = [
    "Ada",
    "Grace",
    "Alan",
    "Edsger",
    "Barbara",
    "Donald",
    "Margaret",
    "Ken",
    "Frances",
    "John",
]
LAST = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Hamilton",
    "Thompson",
    "Allen",
]


class Command(BaseCommand):
    help = "Create idempotent demo data and a demo staff user (development only)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--contacts", type=int, default=300, help="How many contacts (default 300)."
        )
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo-password")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off (creates a known password!).",
        )

    def handle(
        self, *args, contacts: int, username: str, password: str, force: bool, **options
    ) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates a staff user with a known password; run it with DEBUG=true, "
                "or pass --force if you really mean to."
            )
        if contacts < 0:
            raise CommandError("--contacts must be 0 or more.")
        with transaction.atomic():
            email_list = self._list()
            self._contacts(email_list, contacts)
            self._user(username, password)
        # Outside that transaction: the demo's history is sent by the workers'
        # code, whose mail connections write to the database from threads.
        seed_more(email_list, self.stdout.write)
        self.stdout.write(
            self.style.SUCCESS(f"Demo list {email_list.name!r} (id {email_list.pk}) is ready.")
        )
        self.stdout.write(f"Staff login: username {username!r}, password {password!r}")

    def _list(self) -> List:
        # Through the services, so the demo data obeys the rules the API and
        # the admin apply (names unique per list whatever their case).
        email_list = List.objects.filter(name=LIST_NAME).first() or create_list(
            name=LIST_NAME,
            from_name="Demo Store",
            from_email="news@demo-store.example",
            time_zone="America/New_York",
        )
        group = email_list.field_groups.filter(name="Profile").first() or create_field_group(
            email_list=email_list, name="Profile", position=1
        )
        have = {name.lower() for name in email_list.profile_fields.values_list("name", flat=True)}
        for position, (name, data_type, max_length) in enumerate(FIELDS, start=1):
            if name.lower() not in have:
                create_field(
                    group=group,
                    name=name,
                    data_type=data_type,
                    max_length=max_length,
                    position=position,
                )
        have = {name.lower() for name in email_list.events.values_list("name", flat=True)}
        for name in ("Cart Abandoned", "Purchase", "Browse"):
            if name.lower() not in have:
                create_event(email_list=email_list, name=name)
        return email_list

    def _contacts(self, email_list: List, count: int) -> None:
        emails = [f"demo{n:04d}@example.com" for n in range(1, count + 1)]
        results = subscribe_contacts(
            email_list=email_list, emails=emails, method=SubscribeMethod.IMPORT
        )
        rng = random.Random(2026)  # the same demo data on every machine
        updates = []
        for result in results:
            assert result.contact is not None
            updates.append(
                (
                    result.contact,
                    {
                        "First Name": rng.choice(FIRST),
                        "Last Name": rng.choice(LAST),
                        "Birthday": datetime.date(1950, 1, 1)
                        + datetime.timedelta(days=rng.randrange(20000)),
                        "Loyalty Points": rng.randrange(0, 500000) / 100,
                        "VIP": rng.random() < 0.2,
                        "Favourite Category": rng.random() < 0.5,
                    },
                )
            )
        update_profiles(email_list=email_list, updates=updates, update_type=UpdateType.APPEND)
        unsubscribe_contacts(
            email_list=email_list, emails=emails[24::25], method=UnsubscribeMethod.UNSUBSCRIBE_LINK
        )

    def _user(self, username: str, password: str) -> None:
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        # A new hash (a new salt) would end the user's sessions: `make run`
        # runs this at every start, and staff should stay logged in.
        if not user.check_password(password):
            user.set_password(password)
        user.save()
