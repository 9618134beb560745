"""The Campaign, Folder, IpPool and SavedAudience operations of the permission table
(``tests/test_security_api_permissions.py``): each a ``(method, path, body,
success status)`` that succeeds with a token holding every scope."""

from __future__ import annotations

from typing import Any

from broadcasts.library import create_campaign, create_saved_audience
from lists.folders import create_folder
from lists.models import List


def library_operations(shop: List) -> list[tuple[Any, ...]]:
    """What the routes name is made here, in ``shop``."""
    campaign = create_campaign(email_list=shop, name="Spring")
    doomed = create_campaign(email_list=shop, name="To delete")
    folder = create_folder(name="Seasonal")
    first_name = shop.profile_fields.get(name="First Name")
    criteria = {
        "filters": [
            {
                "segmentationFieldId": first_name.pk,
                "compareType": "Equals",
                "values": [{"value": "Ada"}],
            }
        ]
    }
    create_saved_audience(email_list=shop, name="Adas", criteria=criteria)
    lst = f"List/{shop.pk}"
    return [
        ("GET", f"{lst}/Campaign"),
        ("POST", f"{lst}/Campaign", {"campaignName": "Summer"}, 201),
        ("GET", f"{lst}/Campaign/{campaign.pk}"),
        ("PUT", f"{lst}/Campaign/{campaign.pk}", {"campaignName": "Spring sale"}),
        ("DELETE", f"{lst}/Campaign/{doomed.pk}"),
        ("GET", "Folder"),
        ("POST", "Folder", {"folderName": "Archive"}, 201),
        ("GET", f"Folder/{folder.pk}"),
        ("PUT", f"Folder/{folder.pk}", {"folderName": "Seasons"}),
        ("GET", "IpPool"),
        ("GET", f"{lst}/SavedAudience"),
    ]
