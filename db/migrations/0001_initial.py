from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='ApiSession',
            fields=[
                ('jti', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('discord_id', fields.CharField(db_index=True, max_length=32)),
                ('issued_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'sessions', 'app': 'models', 'pk_attr': 'jti', 'table_description': 'An issued session JWT, by its `jti`, so it can be revoked before it expires.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RefreshRun',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('finished_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('error', fields.TextField(null=True, unique=False)),
                ('snapshot_id', fields.IntField(null=True)),
            ],
            options={'table': 'refresh_runs', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One refresh attempt, successful or not, by whichever process refreshed (for /status).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Snapshot',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('taken_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('stream_count', fields.IntField()),
                ('pages', fields.IntField()),
                ('duplicates_dropped', fields.IntField()),
            ],
            options={'table': 'snapshots', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One committed refresh. The newest row describes the rows in `streams`.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Stream',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('snapshot_id', fields.IntField()),
                ('user_id', fields.CharField(max_length=32)),
                ('user_login', fields.TextField(unique=False)),
                ('user_name', fields.TextField(unique=False)),
                ('game_id', fields.CharField(max_length=32)),
                ('game_name', fields.TextField(unique=False)),
                ('title', fields.TextField(unique=False)),
                ('viewer_count', fields.IntField(db_index=True)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('language', fields.TextField(unique=False)),
                ('tags', fields.TextField(description="JSON array of Twitch's readable tags", unique=False)),
                ('thumbnail_url', fields.TextField(unique=False)),
                ('is_mature', fields.BooleanField()),
            ],
            options={'table': 'streams', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A live stream of the current snapshot (the table only ever holds one snapshot).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UsedState',
            fields=[
                ('nonce', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'used_oauth_states', 'app': 'models', 'pk_attr': 'nonce', 'table_description': 'OAuth states already spent: a state works once.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='User',
            fields=[
                ('discord_id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=32)),
                ('twitch_id', fields.CharField(db_index=True, max_length=32)),
                ('twitch_login', fields.CharField(max_length=64)),
                ('twitch_display_name', fields.TextField(unique=False)),
                ('linked_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('access_token', fields.TextField(null=True, description='encrypted (bot/crypto.py)', unique=False)),
                ('refresh_token', fields.TextField(null=True, description='encrypted (bot/crypto.py)', unique=False)),
                ('scopes', fields.CharField(default='', max_length=255)),
            ],
            options={'table': 'users', 'app': 'models', 'pk_attr': 'discord_id', 'table_description': 'A Discord user linked to a Twitch account. Twitch tokens are stored encrypted.'},
            bases=['Model'],
        ),
    ]
