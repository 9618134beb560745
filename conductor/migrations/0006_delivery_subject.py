"""Each delivery keeps the subject it was sent with, as rendered for its
contact: Segment's ``email_subject`` of the email's sent, open, click,
bounce, complaint, unsubscribe and conversion events. Emails sent before have
it empty. A NOT NULL text column with a constant default: on PostgreSQL
adding it rewrites nothing.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('conductor', '0005_activity_conversation_index'),
    ]

    operations = [
        migrations.AddField(
            model_name='delivery',
            name='subject',
            field=models.TextField(blank=True, editable=False),
        ),
    ]
