"""Coupon pools of a list and their codes, handed out by the SetCoupon action."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from conductor.models.enrollments import StepRun
from lists.models import List


class CouponKind(models.TextChoices):
    STATIC = "Static"  # one code for everybody
    UNIQUE = "Unique"  # one code per contact, never handed out twice


class CouponPool(models.Model):
    list = models.ForeignKey(List, on_delete=models.PROTECT, related_name="coupon_pools")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=CouponKind.choices, default=CouponKind.UNIQUE)
    static_code = models.CharField(max_length=100, blank=True)
    #: Unique codes expiring on or before this date are never handed out.
    expiry_cutoff = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=CouponKind.values), name="coupon_pool_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(kind=CouponKind.STATIC) | ~Q(static_code=""),
                name="coupon_pool_static_has_code",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Coupon(models.Model):
    """A unique code of a pool; ``step_run`` is the step visit that handed it out."""

    pool = models.ForeignKey(CouponPool, on_delete=models.CASCADE, related_name="coupons")
    code = models.CharField(max_length=100)
    expires_on = models.DateField(null=True, blank=True)
    step_run = models.OneToOneField(
        StepRun, on_delete=models.PROTECT, null=True, blank=True, related_name="coupon"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pool_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pool", "code"], name="coupon_code_unique_per_pool"),
        ]
        indexes = [
            models.Index(
                fields=["pool", "expires_on"],
                name="coupon_available",
                condition=Q(step_run__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.code
