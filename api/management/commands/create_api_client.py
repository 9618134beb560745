"""``manage.py create_api_client NAME --scopes Contact,List [--json]``."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from api.scopes import Scope
from api.services import create_api_client


class Command(BaseCommand):
    help = "Create a REST API client and print its client id and secret (shown only once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument(
            "--scopes",
            required=True,
            help="Comma-separated, from: " + ",".join(Scope),
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            client, secret = create_api_client(
                name=options["name"], scopes=options["scopes"].split(",")
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if options["json"]:
            self.stdout.write(json.dumps({"client_id": client.client_id, "client_secret": secret}))
            return
        self.stdout.write(f"API client {client.name!r} with scopes {', '.join(client.scope_list)}")
        self.stdout.write(f"client_id:     {client.client_id}")
        self.stdout.write(f"client_secret: {secret}")
        self.stdout.write("Store the secret now: it is kept only hashed and cannot be shown again.")
