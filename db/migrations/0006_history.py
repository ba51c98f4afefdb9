from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_plain_refresh_errors')]

    initial = False

    operations = [
        ops.CreateModel(
            name='HistoryChannel',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('snapshot_id', fields.IntField()),
                ('rank', fields.IntField()),
                ('user_id', fields.CharField(max_length=32)),
                ('login', fields.TextField(unique=False)),
                ('viewers', fields.IntField()),
            ],
            options={'table': 'history_channels', 'app': 'models', 'unique_together': (('snapshot_id', 'rank'),), 'indexes': [Index(fields=['user_id', 'snapshot_id']), Index(fields=['login'])], 'pk_attr': 'id', 'table_description': "A channel's rank and viewers in one snapshot of the history (the top HISTORY_CHANNELS)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HistoryGame',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('snapshot_id', fields.IntField()),
                ('game_id', fields.CharField(max_length=32)),
                ('name', fields.TextField(unique=False)),
                ('streams', fields.IntField()),
                ('viewers', fields.BigIntField()),
                ('highest', fields.IntField()),
            ],
            options={'table': 'history_games', 'app': 'models', 'unique_together': (('snapshot_id', 'game_id'),), 'indexes': [Index(fields=['game_id', 'snapshot_id'])], 'pk_attr': 'id', 'table_description': 'One game in one snapshot of the history: its streams, total and highest viewers.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='HistoryTotal',
            fields=[
                ('snapshot_id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('taken_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('streams', fields.IntField()),
                ('viewers', fields.BigIntField()),
                ('median', fields.FloatField(null=True)),
            ],
            options={'table': 'history_totals', 'app': 'models', 'pk_attr': 'snapshot_id', 'table_description': "Figures over all streams of one snapshot, kept HISTORY_DAYS (marks a snapshot's history)."},
            bases=['Model'],
        ),
    ]
