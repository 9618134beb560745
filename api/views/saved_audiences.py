"""``SavedAudience`` under ``List/{listId}``: the list's saved audiences
(named criteria a broadcast can be sent to), read only as in Listrak; staff
build them in the admin with the filter builder."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import ApiView
from api.envelopes import PAGING, operation_schema, paged, responses
from api.paging import pk_page
from api.routes import route
from api.scopes import Scope
from api.serializers import ApiSerializer
from api.views.lists import LIST_ID
from broadcasts.models import SavedAudience


@extend_schema_serializer(component_name="SavedAudience")
class SavedAudienceSerializer(ApiSerializer):
    name = serializers.CharField()
    lastModified = serializers.DateTimeField(source="modified_at")
    savedAudienceId = serializers.IntegerField(source="pk")


class SavedAudienceCollectionView(ApiView):
    required_scopes = (Scope.LIST,)
    session_permissions = ("broadcasts.view_savedaudience",)

    @operation_schema("SavedAudience")(
        "GetSavedAudienceResourceCollection",
        "Get all Saved Audiences",
        parameters=[LIST_ID, *PAGING],
        responses=responses({200: paged(SavedAudienceSerializer)}),
    )
    def get(self, request: Request, list_id: str) -> Response:
        audiences = SavedAudience.objects.filter(list=self.get_list(list_id))
        rows, cursor = pk_page(audiences.only("name", "modified_at"), params=request.query_params)
        return self.page(list(SavedAudienceSerializer(rows, many=True).data), cursor)


urlpatterns = [
    route("List/<list_id>/SavedAudience", SavedAudienceCollectionView.as_view()),
]
