import factory

from contacts.models import Contact, SubscriptionState
from lists.models import DataType, Event, List, ProfileField, ProfileFieldGroup


class ListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = List

    name = factory.Sequence(lambda n: f"List {n}")
    from_name = "Shop"
    from_email = "news@shop.example"
    time_zone = "America/New_York"


class ProfileFieldGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProfileFieldGroup

    list = factory.SubFactory(ListFactory)
    name = factory.Sequence(lambda n: f"Group {n}")


class ProfileFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProfileField

    group = factory.SubFactory(ProfileFieldGroupFactory)
    list = factory.SelfAttribute("group.list")
    name = factory.Sequence(lambda n: f"Field {n}")
    data_type = DataType.TEXT
    max_length = 50


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    list = factory.SubFactory(ListFactory)
    name = factory.Sequence(lambda n: f"Event {n}")


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    list = factory.SubFactory(ListFactory)
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    state = SubscriptionState.SUBSCRIBED
    subscribed_at = factory.Faker("past_datetime", tzinfo=__import__("datetime").UTC)
    subscribe_method = "API"
