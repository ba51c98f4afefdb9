from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# The history kept a row per game and per channel of each snapshot; it now keeps them packed in
# two texts of the snapshot's history_totals row (`db.history_packs`). The rows already kept are
# packed here, in the same format, before their tables go:
#   games    ",game_id:streams:viewers:highest:name,…,"
#   channels ",user_id:rank:viewers:login,…,"
# with "%", "," and ":" escaped as %25, %2C and %3A in ids, names and logins. Order within a pack
# carries no meaning (every entry says its rank), so SQLite's group_concat order does not matter.


def _escaped(column):
    return f"replace(replace(replace({column}, '%', '%25'), ',', '%2C'), ':', '%3A')"


def _pack(client, entry, table):
    concat = "string_agg" if client.capabilities.dialect == "postgres" else "group_concat"
    return (
        f"COALESCE(',' || {concat}({entry}, ','), '') || ',' FROM {table} "
        f"WHERE {table}.snapshot_id = history_totals.snapshot_id"
    )


async def pack_history(apps, schema_editor):
    client = schema_editor.client
    if client.capabilities.dialect == "postgres":
        await _compress_with_lz4(client)
    games = (
        f"{_escaped('game_id')} || ':' || streams || ':' || viewers || ':' || highest "
        f"|| ':' || {_escaped('name')}"
    )
    channels = f"{_escaped('user_id')} || ':' || rank || ':' || viewers || ':' || {_escaped('login')}"
    await client.execute_query(
        f"UPDATE history_totals SET games = (SELECT {_pack(client, games, 'history_games')}), "
        f"channels = (SELECT {_pack(client, channels, 'history_channels')})"
    )



async def _compress_with_lz4(client):
    """PostgreSQL compresses long texts with pglz by default; lz4, where the server has it,
    stores a snapshot's packs in a third of the time for a few percent more bytes."""
    rows = await client.execute_query_dict(
        "SELECT 'lz4' = ANY(enumvals) AS lz4 FROM pg_settings "
        "WHERE name = 'default_toast_compression'"
    )
    if rows and rows[0]["lz4"]:
        for column in ("games", "channels"):
            await client.execute_query(
                f"ALTER TABLE history_totals ALTER COLUMN {column} SET COMPRESSION lz4"
            )


class Migration(migrations.Migration):
    dependencies = [('models', '0008_every_stream')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='HistoryTotal',
            options={'table': 'history_totals', 'app': 'models', 'pk_attr': 'snapshot_id', 'table_description': "One snapshot's history, kept HISTORY_DAYS: its totals, and its games and top channels packed."},
        ),
        ops.AddField(
            model_name='HistoryTotal',
            name='channels',
            field=fields.TextField(default=',', db_default=',', unique=False),
        ),
        ops.AddField(
            model_name='HistoryTotal',
            name='games',
            field=fields.TextField(default=',', db_default=',', unique=False),
        ),
        ops.RunPython(pack_history),
        ops.DeleteModel(name='HistoryChannel'),
        ops.DeleteModel(name='HistoryGame'),
    ]
