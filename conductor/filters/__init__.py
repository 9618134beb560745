"""Go To step criteria: Listrak's filter shape, plus engagement with the
conversation's emails (``engagement``), validated (``parsing``) into a typed
tree (``criteria``) and compiled to one database condition (``sql``). The
step page edits them as rows with the filter builder (``builder``).

    criteria = parse_criteria(email_list, {"filters": [...]}, conversation_id=7)
    Contact.objects.filter(list=email_list).filter(criteria_q(criteria))
    step.settings["criteria"] = criteria.to_settings()  # ids, canonical values
"""

from conductor.filters.criteria import (
    CompareType,
    Condition,
    Criteria,
    Engagement,
    EngagementKind,
    FilterSet,
    JoinType,
)
from conductor.filters.parsing import parse_criteria
from conductor.filters.sql import ProfileDate, ProfileNumber, ProfileText, criteria_q

__all__ = [
    "CompareType",
    "Condition",
    "Criteria",
    "Engagement",
    "EngagementKind",
    "FilterSet",
    "JoinType",
    "ProfileDate",
    "ProfileNumber",
    "ProfileText",
    "criteria_q",
    "parse_criteria",
]
