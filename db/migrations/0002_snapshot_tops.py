from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='SnapshotTop',
            fields=[
                ('snapshot_id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('streams', fields.TextField(unique=False)),
            ],
            options={'table': 'snapshot_tops', 'app': 'models', 'pk_attr': 'snapshot_id', 'table_description': "A recent snapshot's top 100 as JSON: /top pages stay turnable anywhere, anytime."},
            bases=['Model'],
        ),
    ]
