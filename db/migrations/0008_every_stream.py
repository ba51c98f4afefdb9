from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_digests')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Snapshot',
            name='every_stream',
            field=fields.BooleanField(default=False, db_default=False),
        ),
    ]
