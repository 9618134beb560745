"""Coupon pools, with an upload of unique codes that scales to files of
100,000 codes: set-based inserts in batches, duplicates reported and skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice

from django.contrib import admin, messages
from django.db.models import Count, F, Q, QuerySet
from django.http import HttpRequest

from conductor.engine.holds import held_for_coupons, resume_held
from conductor.forms import CodeFile, CouponPoolForm
from conductor.models import Coupon, CouponKind, CouponPool

BATCH = 1000  # codes per query: well under every database's parameter limit
SHOWN = 10  # duplicate codes named in the message; the count says the rest

# Unassigned, and expiring after the pool's cutoff (or never): what can still be handed out.
AVAILABLE = Q(coupons__step_run__isnull=True) & (
    Q(expiry_cutoff__isnull=True)
    | Q(coupons__expires_on__isnull=True)
    | Q(coupons__expires_on__gt=F("expiry_cutoff"))
)


@dataclass
class CodesAdded:
    added: int = 0
    repeated_in_file: list[str] = field(default_factory=list)
    already_in_pool: list[str] = field(default_factory=list)
    resumed: int = 0  # contacts held for want of codes, now on their way


def add_coupon_codes(*, pool: CouponPool, codes: CodeFile) -> CodesAdded:
    """Insert the file's codes into ``pool``, skipping those it already has.

    The pool's unique (pool, code) key is the final guard: ``ignore_conflicts``
    skips a code another upload inserted between our check and our insert."""
    result = CodesAdded(repeated_in_file=codes.repeated)
    items = iter(codes.codes.items())
    while batch := dict(islice(items, BATCH)):
        existing = set(
            Coupon.objects.filter(pool=pool, code__in=list(batch)).values_list("code", flat=True)
        )
        result.already_in_pool.extend(sorted(existing))
        new = [
            Coupon(pool=pool, code=code, expires_on=expires)
            for code, expires in batch.items()
            if code not in existing
        ]
        Coupon.objects.bulk_create(new, ignore_conflicts=True)
        result.added += len(new)
    if result.added:
        # "An empty pool … resumes when codes arrive" (SPEC section 4).
        result.resumed = resume_held(held_for_coupons(pool))
    return result


def _listing(codes: list[str]) -> str:
    shown = ", ".join(codes[:SHOWN])
    return shown + (f" and {len(codes) - SHOWN} more" if len(codes) > SHOWN else "")


@admin.register(CouponPool)
class CouponPoolAdmin(admin.ModelAdmin):
    form = CouponPoolForm
    list_display = ["name", "list", "kind", "expiry_cutoff", "available_codes", "total_codes"]
    list_filter = ["list", "kind"]
    search_fields = ["name"]
    readonly_fields = ["available_codes", "total_codes"]
    fields = [
        "list",
        "name",
        "kind",
        "static_code",
        "expiry_cutoff",
        "codes_file",
        "available_codes",
        "total_codes",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CouponPool]:
        return (
            super()
            .get_queryset(request)
            .annotate(available=Count("coupons", filter=AVAILABLE), total=Count("coupons"))
        )

    @admin.display(description="Available codes", ordering="available")
    def available_codes(self, obj: CouponPool) -> str | int:
        if obj.pk is None:
            return "—"
        if obj.kind == CouponKind.STATIC:
            return f"the static code {obj.static_code}"
        return getattr(obj, "available", 0)

    @admin.display(description="All codes", ordering="total")
    def total_codes(self, obj: CouponPool) -> int:
        return getattr(obj, "total", 0)

    def save_model(self, request: HttpRequest, obj: CouponPool, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        codes: CodeFile | None = form.cleaned_data.get("codes_file")
        if codes is None:
            return
        result = add_coupon_codes(pool=obj, codes=codes)
        resumed = f"; {result.resumed} contacts waiting for a code resume" if result.resumed else ""
        self.message_user(request, f"Added {result.added} codes{resumed}.", messages.SUCCESS)
        if result.repeated_in_file:
            self.message_user(
                request,
                f"Skipped {len(result.repeated_in_file)} codes repeated in the file: "
                f"{_listing(result.repeated_in_file)}.",
                messages.WARNING,
            )
        if result.already_in_pool:
            self.message_user(
                request,
                f"Skipped {len(result.already_in_pool)} codes already in the pool: "
                f"{_listing(result.already_in_pool)}.",
                messages.WARNING,
            )
