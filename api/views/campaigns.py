"""``Campaign`` under ``List/{listId}``: names grouping a list's broadcasts.
Deleting one leaves its broadcasts, in no campaign."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import ApiView
from api.envelopes import (
    ResourceCreatedSerializer,
    ResourceDeletedSerializer,
    collection,
    operation_schema,
    resource,
    responses,
)
from api.errors import not_found
from api.routes import route
from api.scopes import Scope
from api.serializers import ApiSerializer, TextField, validated
from api.views.lists import BODY_ERRORS, LIST_ID, path_id
from broadcasts.library import create_campaign, delete_campaign, rename_campaign
from broadcasts.models import Campaign
from lists.models import List

CAMPAIGN_ID = path_id("campaign_id", "Identifier used to locate the campaign.")


@extend_schema_serializer(component_name="Campaign")
class CampaignSerializer(ApiSerializer):
    campaignId = serializers.IntegerField(source="pk", read_only=True)
    campaignName = TextField(source="name", max_length=200)


_schema = operation_schema("Campaign")


class _CampaignView(ApiView):
    required_scopes = (Scope.LIST, Scope.MESSAGE)
    session_permissions = ("broadcasts.view_campaign",)

    def get_campaign(self, list_id: str, campaign_id: str) -> Campaign:
        return self.get_in_list(Campaign, list_id, campaign_id, "campaignId")


class CampaignCollectionView(_CampaignView):
    @_schema(
        "GetCampaignCollection",
        "Get all Campaigns",
        parameters=[LIST_ID],
        responses=responses({200: collection(CampaignSerializer)}),
    )
    def get(self, request: Request, list_id: str) -> Response:
        campaigns = Campaign.objects.filter(list=self.get_list(list_id)).order_by("name", "id")
        return self.ok(CampaignSerializer(campaigns, many=True).data)

    @_schema(
        "PostCampaignResource",
        "Create a Campaign",
        parameters=[LIST_ID],
        request=CampaignSerializer,
        responses=responses({201: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def post(self, request: Request, list_id: str) -> Response:
        email_list = self.get_list(list_id)
        data = validated(CampaignSerializer, self.body(request))
        try:
            campaign = create_campaign(email_list=email_list, **data)
        except List.DoesNotExist:
            raise not_found("listId") from None
        return self.created(campaign.pk)


class CampaignView(_CampaignView):
    @_schema(
        "GetCampaignResource",
        "Get a Campaign",
        parameters=[LIST_ID, CAMPAIGN_ID],
        responses=responses({200: resource(CampaignSerializer)}),
    )
    def get(self, request: Request, list_id: str, campaign_id: str) -> Response:
        return self.ok(CampaignSerializer(self.get_campaign(list_id, campaign_id)).data)

    @_schema(
        "PutCampaignResource",
        "Update a Campaign",
        parameters=[LIST_ID, CAMPAIGN_ID],
        request=CampaignSerializer,
        responses=responses({200: ResourceCreatedSerializer}, *BODY_ERRORS),
    )
    def put(self, request: Request, list_id: str, campaign_id: str) -> Response:
        campaign = self.get_campaign(list_id, campaign_id)
        data = validated(CampaignSerializer, self.body(request))
        try:
            rename_campaign(campaign=campaign, **data)
        except Campaign.DoesNotExist:
            raise not_found("listId and campaignId") from None
        return self.updated(campaign.pk)

    @_schema(
        "DeleteCampaignResource",
        "Delete a Campaign",
        parameters=[LIST_ID, CAMPAIGN_ID],
        responses=responses({200: ResourceDeletedSerializer}),
    )
    def delete(self, request: Request, list_id: str, campaign_id: str) -> Response:
        delete_campaign(campaign=self.get_campaign(list_id, campaign_id))
        return self.deleted()


urlpatterns = [
    route("List/<list_id>/Campaign", CampaignCollectionView.as_view()),
    route("List/<list_id>/Campaign/<campaign_id>", CampaignView.as_view()),
]
