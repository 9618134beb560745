"""SetCoupon: hands each contact a code of a coupon pool of the list, into a
text field. A unique pool's codes go out once each; a contact finding the
pool empty is held until codes arrive.

Settings: ``{"action": "SetCoupon", "pool": id, "field": id}``.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q

from conductor.engine.batch import StepBatch
from conductor.engine.outcomes import Hold, Outcome
from conductor.models import Coupon, CouponKind, CouponPool, Step
from conductor.steps.actions.base import (
    ActionKindUnit,
    FieldSettings,
    chosen_pk,
    field_choice,
    field_problems,
    write_field,
)
from conductor.steps.context import Names, VersionContext, label, whole_number
from conductor.steps.references import FIELD, POOL, Reference
from lists.models import DataType, List

TEXT_TYPES = (DataType.TEXT, DataType.COMMENT_AREA, DataType.CONTENT_BLOCK)


class SetCouponSettings(FieldSettings):
    pool: int | None


class SetCoupon(ActionKindUnit):
    kind = "SetCoupon"
    choice_label = "Set a coupon code into a text field"
    title = "Set coupon"
    references = (Reference("field", FIELD), Reference("pool", POOL))
    problem_fields = [("pool", "pool"), ("field", "coupon_field")]

    def check(self, step: Step, context: VersionContext) -> list[str]:
        problems = []
        if whole_number(step.settings.get("pool")) not in context.coupon_pools:
            problems.append(f"{label(step)}: pool must be a coupon pool of this list.")
        return problems + field_problems(step, context, "field", TEXT_TYPES)

    def run(self, batch: StepBatch) -> dict[int, Outcome]:
        pool = CouponPool.objects.get(pk=batch.step.settings["pool"])
        if pool.kind == CouponKind.STATIC:
            write_field(batch, {e.pk: pool.static_code for e in batch.enrollments})
            # Saved now, not at the claim's end: a Message step later in this
            # claim finds its {{ coupon }} by them (``step_coupons.coupons_of``).
            batch.runs  # noqa: B018  # saving them is the point
            return {}
        available = Coupon.objects.filter(pool=pool, step_run__isnull=True)
        if pool.expiry_cutoff is not None:
            available = available.filter(
                Q(expires_on__isnull=True) | Q(expires_on__gt=pool.expiry_cutoff)
            )
        # SKIP LOCKED: two workers handing out codes of one pool take different codes.
        codes = list(
            available.order_by("pk").select_for_update(skip_locked=True)[: len(batch.enrollments)]
        )
        outcomes: dict[int, Outcome] = {}
        values: dict[int, object] = {}
        padded: list[Coupon | None] = [*codes, *[None] * (len(batch.enrollments) - len(codes))]
        for enrollment, coupon in zip(batch.enrollments, padded, strict=True):
            if coupon is None:
                outcomes[enrollment.pk] = Hold(f"Coupon pool {pool.name!r} has no codes left.")
                continue
            coupon.step_run = batch.runs[enrollment.pk]
            coupon.assigned_at = batch.now
            values[enrollment.pk] = coupon.code
        Coupon.objects.bulk_update([c for c in codes if c.step_run_id], ["step_run", "assigned_at"])
        write_field(batch, values)
        return outcomes

    def held_for_codes(self, pool_id: int) -> Q:
        return Q(settings__pool=pool_id)

    def summary(self, settings: dict[str, Any], names: Names) -> str:
        pool = names.pools.get(settings.get("pool"), "?")  # type: ignore[arg-type]  # None when unset: finds no name
        return f"coupon from {pool} into {names.field(settings)}"

    def form_fields(self, email_list: List) -> dict[str, forms.Field]:
        pools = CouponPool.objects.filter(list=email_list)
        return {
            "pool": forms.ModelChoiceField(queryset=pools, required=False, label="Coupon pool"),
            "coupon_field": field_choice(email_list, TEXT_TYPES, label="Into field"),
        }

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        return {"pool": settings.get("pool"), "coupon_field": settings.get("field")}

    def settings_from(self, cleaned: dict[str, Any]) -> SetCouponSettings:
        return {
            "action": self.kind,
            "field": chosen_pk(cleaned, "coupon_field"),
            "pool": chosen_pk(cleaned, "pool"),
        }
