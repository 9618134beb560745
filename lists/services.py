"""Writes of lists, profile-field groups, profile fields, event groups and
events. The API, the admin and commands all write through these, so one set
of rules applies however a change arrives.

Only writes that touch nothing but this app's tables live here. Changing a
field's type or length, clearing or deleting a field, and deleting a list
concern the values contacts hold, which this app cannot see: those are
``contacts.services`` (``change_field``, ``clear_field_values``,
``delete_field``, ``delete_list``).

Names of field groups, fields, event groups and events are unique per list
whatever their case (database constraints); a clash is :class:`NameTaken`.
Refusals are ``ValidationError`` subclasses that carry their facts, so the
API can say the same thing in Listrak's words ("segmentation field").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, TypedDict, Unpack

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from lists.models import (
    DataType,
    Event,
    EventGroup,
    EventStatus,
    Folder,
    List,
    ProfileField,
    ProfileFieldGroup,
)

# Listrak's code for "something still uses this"; the API passes it through.
RESOURCE_DEPENDENCY = "ERROR_RESOURCE_DEPENDENCY"
SHOWN_NAMES = 10  # names a refusal lists before "…"


# --- Refusals ------------------------------------------------------------------------


class Refusal(ValidationError):
    """A service's refusal. ``about`` names the model field it concerns, so a
    form shows it on that field; ``worded()`` builds the message, and
    subclasses take nouns there for callers that name things differently."""

    code: str  # each subclass's; ValidationError's own attribute, so not a ClassVar
    about: ClassVar[str | None] = None

    def __init__(self) -> None:
        error = ValidationError(self.worded(), code=self.code)
        super().__init__({self.about: error} if self.about else error)

    def worded(self) -> str:
        raise NotImplementedError


class NameTaken(Refusal):
    """Another row of the list has this name, whatever its case."""

    code = "name_taken"
    about = "name"

    def __init__(self, *, noun: str, name: str) -> None:
        self.noun, self.name = noun, name
        super().__init__()

    def worded(self, noun: str = "") -> str:
        noun = noun or self.noun
        article = "an" if noun[0] in "aeiou" else "a"
        return f"The list already has {article} {noun} named {self.name!r} (names ignore case)."


class ChangedMeanwhile(Refusal):
    """The write broke a constraint although no name clashed: a row it refers
    to (its list, its group) went away meanwhile."""

    code = "changed_meanwhile"

    def __init__(self, *, noun: str) -> None:
        self.noun = noun
        super().__init__()

    def worded(self, noun: str = "") -> str:
        return (
            f"The {noun or self.noun} could not be saved because the list changed "
            "meanwhile; try again."
        )


class UnknownEventGroup(Refusal):
    code = "unknown_event_group"
    about = "group"

    def __init__(self, *, group_id: int) -> None:
        self.group_id = group_id
        super().__init__()

    def worded(self) -> str:
        return f"The list has no event group {self.group_id}."


class UnknownFolder(Refusal):
    """The list's folder is not (or no longer) a folder."""

    code = "unknown_folder"
    about = "folder"

    def __init__(self, *, folder_id: int) -> None:
        self.folder_id = folder_id
        super().__init__()

    def worded(self) -> str:
        return f"There is no folder {self.folder_id}."


class FieldGroupNotEmpty(Refusal):
    """A profile field group is deleted only once its fields are: deleting a
    field removes its values from every contact, which is not a side effect."""

    code = RESOURCE_DEPENDENCY

    def __init__(self, *, group: ProfileFieldGroup, names: Sequence[str]) -> None:
        self.group_name, self.names = group.name, list(names)
        super().__init__()

    def worded(
        self, group_noun: str = "profile field group", field_noun: str = "profile field"
    ) -> str:
        many = len(self.names) > 1
        return (
            f"The {group_noun} {self.group_name!r} still holds {len(self.names)} "
            f"{field_noun}{'s' if many else ''} ({shown(self.names)}); "
            f"delete {'them' if many else 'it'} first."
        )


class EventGroupNotEmpty(Refusal):
    code = RESOURCE_DEPENDENCY

    def __init__(self, *, group: EventGroup, names: Sequence[str]) -> None:
        self.group_name, self.names = group.name, list(names)
        super().__init__()

    def worded(self) -> str:
        return (
            f"The event group {self.group_name!r} still holds events ({shown(self.names)}); "
            "move them to another group (or none) first."
        )


def shown(names: Sequence[str]) -> str:
    """The first names, then "…" when there are more."""
    more = ", …" if len(names) > SHOWN_NAMES else ""
    return ", ".join(names[:SHOWN_NAMES]) + more


# --- Saving a row whose name is unique in its list ------------------------------------

Named = ProfileFieldGroup | ProfileField | EventGroup | Event


def check_name_free(instance: Named) -> None:
    """Refuse (:class:`NameTaken`) a name another row of the list has."""
    model = type(instance)
    others = model._default_manager.filter(list_id=instance.list_id, name__iexact=instance.name)
    if instance.pk is not None:
        others = others.exclude(pk=instance.pk)
    if others.exists():
        raise NameTaken(noun=str(model._meta.verbose_name), name=instance.name)


def _save_named(instance: Named, changes: dict[str, object] | None = None) -> None:
    """Insert ``instance`` (``changes`` None), or apply ``changes`` to it and
    UPDATE those columns. A row deleted meanwhile is the model's DoesNotExist
    (``save()`` would insert it again); a constraint broken by a concurrent
    write is :class:`NameTaken` when it took the name, else ChangedMeanwhile."""
    model = type(instance)
    for name, value in (changes or {}).items():
        setattr(instance, name, value)
    check_name_free(instance)
    try:
        with transaction.atomic():
            if changes is None:
                instance.save(force_insert=True)
            elif changes and not model._default_manager.filter(pk=instance.pk).update(**changes):
                raise model.DoesNotExist(f"{model._meta.verbose_name} {instance.pk} is gone.")
    except IntegrityError:
        check_name_free(instance)
        raise ChangedMeanwhile(noun=str(model._meta.verbose_name)) from None


# --- Lists -----------------------------------------------------------------------------


class ListSettings(TypedDict, total=False):
    folder: Folder | None
    from_name: str
    from_email: str
    bounce_handling: str
    bounce_unsubscribe_count: int
    double_opt_in: bool
    time_zone: str


class ListChanges(ListSettings, total=False):
    name: str


def create_list(*, name: str, **settings: Unpack[ListSettings]) -> List:
    """Create a list; settings left out take the model's defaults."""
    with transaction.atomic():
        _keep_folder(settings.get("folder"))
        return List.objects.create(name=name, **settings)


def update_list(*, email_list: List, **changes: Unpack[ListChanges]) -> None:
    """Change the settings given; the others keep their value. A list deleted
    meanwhile is ``List.DoesNotExist``. (Deleting a list is
    ``contacts.services.delete_list``: it has contacts.)"""
    for name, value in changes.items():
        setattr(email_list, name, value)
    with transaction.atomic():
        _keep_folder(changes.get("folder"))
        if changes and not List.objects.filter(pk=email_list.pk).update(**changes):
            raise List.DoesNotExist(f"List {email_list.pk} is gone.")


def _keep_folder(folder: Folder | None) -> None:
    """Refuse (:class:`UnknownFolder`) a folder deleted meanwhile; lock it
    until the list is saved, so that it cannot go in between."""
    if (
        folder is not None
        and not Folder.objects.select_for_update(no_key=True).filter(pk=folder.pk).exists()
    ):
        raise UnknownFolder(folder_id=folder.pk)


# --- Profile field groups and fields ---------------------------------------------------


def create_field_group(*, email_list: List, name: str, position: int = 0) -> ProfileFieldGroup:
    """Add a profile field group to ``email_list`` (NameTaken on a clash)."""
    group = ProfileFieldGroup(list=email_list, name=name, position=position)
    _save_named(group)
    return group


def update_field_group(*, group: ProfileFieldGroup, name: str, position: int) -> None:
    """Rename or move a profile field group (NameTaken on a clash)."""
    _save_named(group, {"name": name, "position": position})


def check_field_group_empty(*, group: ProfileFieldGroup) -> None:
    """Refuse (:class:`FieldGroupNotEmpty`) while the group holds fields."""
    names = list(group.fields.order_by("position", "id").values_list("name", flat=True))
    if names:
        raise FieldGroupNotEmpty(group=group, names=names)


def delete_field_group(*, group: ProfileFieldGroup) -> None:
    """Delete an empty profile field group; refused while it holds fields."""
    with transaction.atomic():
        # Locked, so a field added meanwhile waits and then fails, rather than
        # being deleted with the group without its values cleared.
        ProfileFieldGroup.objects.select_for_update().filter(pk=group.pk).first()
        check_field_group_empty(group=group)
        group.delete()


def create_field(
    *,
    group: ProfileFieldGroup,
    name: str,
    data_type: str = DataType.TEXT,
    max_length: int = 255,
    position: int = 0,
) -> ProfileField:
    """Add a profile field to ``group`` and so to the group's list; its name
    must be free in the whole list (imports map columns by name)."""
    field = ProfileField(
        list_id=group.list_id,
        group=group,
        name=name,
        data_type=data_type,
        max_length=max_length,
        position=position,
    )
    _save_named(field)
    return field


def update_field(
    *, field: ProfileField, name: str, position: int, group: ProfileFieldGroup | None = None
) -> None:
    """Rename a profile field, reorder it, or move it to another ``group`` of
    its list: nothing a contact's value depends on. Its type and length are
    ``contacts.services.change_field``, which checks the values held fit."""
    changes: dict[str, object] = {"name": name, "position": position}
    if group is not None:
        if group.list_id != field.list_id:
            raise ValidationError({"group": "The group belongs to another list."})
        changes["group"] = group
    _save_named(field, changes)


# --- Event groups and events -----------------------------------------------------------


def create_event_group(*, email_list: List, name: str) -> EventGroup:
    """Add an event group to ``email_list`` (NameTaken on a clash)."""
    group = EventGroup(list=email_list, name=name)
    _save_named(group)
    return group


def update_event_group(*, group: EventGroup, name: str) -> None:
    """Rename an event group (NameTaken on a clash)."""
    _save_named(group, {"name": name})


def delete_event_group(*, group: EventGroup) -> None:
    """Delete an event group that holds no events; refused
    (:class:`EventGroupNotEmpty`) while it does."""
    names = _event_names(group)
    try:
        with transaction.atomic():
            if not names:
                group.delete()  # Event.group is PROTECT: an event added meanwhile stops it
    except (ProtectedError, IntegrityError):
        names = _event_names(group)
    if names:
        raise EventGroupNotEmpty(group=group, names=names)


def _event_names(group: EventGroup) -> list[str]:
    names = group.events.order_by("name", "id").values_list("name", flat=True)
    return list(names[: SHOWN_NAMES + 1])


def _check_event_group(email_list_id: int, group_id: int | None) -> None:
    if group_id and not EventGroup.objects.filter(pk=group_id, list_id=email_list_id).exists():
        raise UnknownEventGroup(group_id=group_id)


class EventChanges(TypedDict, total=False):
    name: str
    status: str
    group_id: int | None


def create_event(
    *,
    email_list: List,
    name: str,
    status: str = EventStatus.ACTIVE,
    group_id: int | None = None,
) -> Event:
    """Add an external event to ``email_list``, in one of its event groups or
    none (UnknownEventGroup for a group of another list, NameTaken on a clash)."""
    _check_event_group(email_list.pk, group_id)
    event = Event(list=email_list, name=name, status=status, group_id=group_id)
    _save_named(event)
    return event


def update_event(*, event: Event, **changes: Unpack[EventChanges]) -> None:
    """Rename, block or unblock an event, or move it to another event group of
    its list (``group_id`` None for none); what is left out keeps its value."""
    if "group_id" in changes:
        _check_event_group(event.list_id, changes["group_id"])
    _save_named(event, dict(changes))


def delete_event(*, event: Event) -> None:
    """Delete an event. A conversation it triggers (Trigger.event is PROTECT)
    stops the deletion with ``ProtectedError``; its fired activity stays."""
    event.delete()
