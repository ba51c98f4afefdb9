from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0006_history')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Digest',
            fields=[
                ('guild_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('channel_id', fields.CharField(max_length=32)),
                ('every', fields.CharField(description='hourly or daily', max_length=8)),
                ('hour', fields.IntField(description='UTC hour a daily digest is due')),
                ('set_by', fields.CharField(max_length=32)),
                ('set_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('disabled_reason', fields.TextField(null=True, unique=False)),
                ('disabled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'digests', 'app': 'models', 'pk_attr': 'guild_id', 'table_description': "A guild's digest: where and how often it is posted, or why it was switched off."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DigestPost',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('guild_id', fields.CharField(max_length=32)),
                ('period', fields.CharField(max_length=32)),
                ('snapshot_id', fields.IntField()),
                ('channel_id', fields.CharField(max_length=32)),
                ('claimed_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('state', fields.CharField(max_length=8)),
                ('message_id', fields.CharField(null=True, max_length=32)),
                ('error', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'digest_posts', 'app': 'models', 'unique_together': (('guild_id', 'period'),), 'pk_attr': 'id', 'table_description': "One period of one guild's digest, claimed before it is sent: at most one post each."},
            bases=['Model'],
        ),
    ]
