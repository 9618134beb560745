"""The emails app takes up the models ``conductor.0009`` let go of: their
tables are already ``emails_*``, so this only records them in this app's
state. Their content types move too, so the permissions staff hold on
messages and deliveries stay theirs."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MOVED = ["message", "messagelink", "delivery"]


def move_content_types(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    ContentType.objects.using(db).filter(app_label="conductor", model__in=MOVED).update(
        app_label="emails"
    )


def move_content_types_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    ContentType.objects.using(db).filter(app_label="emails", model__in=MOVED).update(
        app_label="conductor"
    )


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        # The tables were made, and renamed for this app, by Conductor's migrations.
        ('conductor', '0009_deliveries_move_to_emails'),
        ('contacts', '0004_contact_fillfactor'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('lists', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Message',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('name', models.CharField(max_length=200)),
                        ('subject', models.CharField(max_length=500)),
                        ('html_body', models.TextField(blank=True)),
                        ('text_body', models.TextField()),
                        ('from_name', models.CharField(blank=True, help_text="The list's when blank.", max_length=200)),
                        ('from_email', models.EmailField(blank=True, help_text="The list's when blank.", max_length=254)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('list', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='messages', to='lists.list')),
                    ],
                    options={
                        'ordering': ['name', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='Delivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('source_id', models.PositiveBigIntegerField()),
                        ('status', models.CharField(choices=[('Pending', 'Pending'), ('Sending', 'Sending'), ('Handed', 'Handed'), ('Sent', 'Sent'), ('Skipped', 'Skipped'), ('Uncertain', 'Uncertain'), ('Failed', 'Failed')], default='Pending', max_length=10)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('claim_expires_at', models.DateTimeField(blank=True, null=True)),
                        ('claim_token', models.CharField(blank=True, default='', editable=False, max_length=32)),
                        ('sent_at', models.DateTimeField(blank=True, null=True)),
                        ('error', models.TextField(blank=True)),
                        ('merge_context', models.JSONField(blank=True, default=dict, editable=False)),
                        ('details', models.JSONField(blank=True, default=dict, editable=False)),
                        ('subject', models.TextField(blank=True, editable=False)),
                        ('contact', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='contacts.contact')),
                        ('source_type', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='contenttypes.contenttype')),
                        ('message', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='deliveries', to='emails.message')),
                    ],
                    options={
                        'verbose_name_plural': 'deliveries',
                        'ordering': ['-created_at', '-id'],
                        'indexes': [models.Index(condition=models.Q(('status__in', ['Pending', 'Sending', 'Handed'])), fields=['created_at'], name='delivery_unsent'), models.Index(condition=models.Q(('status', 'Sent'), models.Q(('claim_token', ''), _negated=True)), fields=['claim_expires_at'], name='delivery_sent_unrecorded')],
                        'constraints': [models.CheckConstraint(condition=models.Q(('status__in', ['Pending', 'Sending', 'Handed', 'Sent', 'Skipped', 'Uncertain', 'Failed'])), name='delivery_status_valid'), models.UniqueConstraint(fields=('source_type', 'source_id'), name='delivery_once_per_source')],
                    },
                ),
                migrations.CreateModel(
                    name='MessageLink',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('url', models.TextField(help_text="The link's address as written in the template.")),
                        ('url_hash', models.CharField(editable=False, max_length=64)),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('message', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='links', to='emails.message')),
                    ],
                    options={
                        'ordering': ['message_id', 'id'],
                        'constraints': [models.UniqueConstraint(fields=('message', 'url_hash'), name='message_link_once')],
                    },
                ),
            ],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
