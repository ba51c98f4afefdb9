from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_token_version')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CommandSync',
            fields=[
                ('target', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=64)),
                ('digest', fields.CharField(max_length=64)),
                ('synced_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'command_syncs', 'app': 'models', 'pk_attr': 'target', 'table_description': 'The digest of the slash commands last published to one target (global or a guild).'},
            bases=['Model'],
        ),
    ]
