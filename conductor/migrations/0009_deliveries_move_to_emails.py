"""Messages, their links and deliveries move to the emails app, which knows
no sender: a delivery's step run becomes its source (a content type and an
id), and what rendering and activities read of the enrollment is copied
onto the delivery (the trigger as a merge field, the conversation as what
names its activities). Then the tables are renamed ``emails_*`` and the
models leave this app's state; ``emails.0001_initial`` takes them up. No
row is copied: the deliveries table is updated in place, once."""

import django.db.models.deletion
from django.db import migrations, models

BATCH = 2000
UNRENDERED = "profile"  # a rendered email's merge fields hold the profile


def fill_sources(apps, schema_editor):
    Delivery = apps.get_model("conductor", "Delivery")
    StepRun = apps.get_model("conductor", "StepRun")
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if not Delivery.objects.using(db).exists():
        return
    step_run_type, _ = ContentType.objects.using(db).get_or_create(
        app_label="conductor", model="steprun"
    )
    last = 0
    while True:
        batch = list(
            Delivery.objects.using(db)
            .filter(pk__gt=last)
            .order_by("pk")
            .only("pk", "source_id", "merge_context")[:BATCH]
        )
        if not batch:
            return
        last = batch[-1].pk
        runs = {
            run["pk"]: run
            for run in StepRun.objects.using(db)
            .filter(pk__in={d.source_id for d in batch})
            .values(
                "pk",
                "enrollment__conversation_id",
                "enrollment__trigger_kind",
                "enrollment__trigger_details",
            )
        }
        for delivery in batch:
            run = runs[delivery.source_id]
            delivery.source_type_id = step_run_type.pk
            delivery.details = {"conversation_id": run["enrollment__conversation_id"]}
            if UNRENDERED not in (delivery.merge_context or {}):
                trigger = {
                    "kind": run["enrollment__trigger_kind"],
                    **(run["enrollment__trigger_details"] or {}),
                }
                delivery.merge_context = {**(delivery.merge_context or {}), "trigger": trigger}
        Delivery.objects.using(db).bulk_update(
            batch, ["source_type", "details", "merge_context"], batch_size=BATCH
        )


class Migration(migrations.Migration):
    dependencies = [
        ("conductor", "0008_step_kind_from_registry"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="delivery",
            name="source_type",
            field=models.ForeignKey(
                null=True,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="contenttypes.contenttype",
            ),
        ),
        migrations.AddField(
            model_name="delivery",
            name="details",
            field=models.JSONField(blank=True, default=dict, editable=False),
        ),
        # The step run's column becomes a plain id (no foreign key: the
        # source may be any model), then takes its new name.
        migrations.AlterField(
            model_name="delivery",
            name="step_run",
            field=models.PositiveBigIntegerField(db_column="step_run_id"),
        ),
        migrations.RenameField(model_name="delivery", old_name="step_run", new_name="source_id"),
        migrations.AlterField(
            model_name="delivery",
            name="source_id",
            field=models.PositiveBigIntegerField(),
        ),
        migrations.RunPython(fill_sources, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="delivery",
            name="source_type",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="contenttypes.contenttype",
            ),
        ),
        migrations.AddConstraint(
            model_name="delivery",
            constraint=models.UniqueConstraint(
                fields=("source_type", "source_id"), name="delivery_once_per_source"
            ),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable(name="message", table="emails_message"),
                migrations.AlterModelTable(name="messagelink", table="emails_messagelink"),
                migrations.AlterModelTable(name="delivery", table="emails_delivery"),
            ],
            state_operations=[
                migrations.DeleteModel(name="delivery"),
                migrations.DeleteModel(name="messagelink"),
                migrations.DeleteModel(name="message"),
            ],
        ),
    ]
