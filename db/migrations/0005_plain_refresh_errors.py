from tortoise import migrations
from tortoise.migrations import operations as ops

# Refresh attempts recorded before this release kept the raw exception text (client reprs,
# internal host names), which /status shows publicly. Later ones say what failed in plain
# words; these become a plain sentence too (the details were always in the log).


class Migration(migrations.Migration):
    dependencies = [("models", "0004_command_syncs")]

    initial = False

    operations = [
        ops.RunSQL(
            "UPDATE refresh_runs SET error = 'a failure recorded by an earlier release "
            "(the details are in the bot''s log)' WHERE error IS NOT NULL",
            reverse_sql="SELECT 1",
        ),
    ]
