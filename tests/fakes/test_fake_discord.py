"""The fake Discord, proven with the real discord.py client (and raw HTTP/websocket)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import struct
import zlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
import yarl
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import (
    ATTACHMENT_SIZE_LIMIT,
    DEFAULT_USER_ID,
    EPHEMERAL,
    LOADING,
    FakeDiscord,
    patched_discord,
    png_dimensions,
)

STREAMERS = ["shroud", "pokimane", "xqc", "summit1g", "sodapoppin", "lirik", "sykkuno"]
OTHER_USER_ID = 1_100_000_000_000_000_777


def tiny_png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


CHART_PNG = tiny_png(40, 30)


def chart_file(name: str = "chart.png") -> discord.File:
    return discord.File(io.BytesIO(CHART_PNG), filename=name, description="A grey square")


class RecordingTree(app_commands.CommandTree):
    """Keeps app-command errors so a test can assert there were none."""

    def __init__(self, client: commands.Bot) -> None:
        super().__init__(client)
        self.errors: list[BaseException] = []

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        self.errors.append(error)


class CardView(discord.ui.View):
    def __init__(self, origin: discord.Interaction) -> None:
        super().__init__(timeout=60)
        self.origin = origin

    @discord.ui.button(label="Refresh", custom_id="card:refresh", style=discord.ButtonStyle.primary)
    async def refresh(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        embed = discord.Embed(title="Card", description="v2")
        await interaction.response.edit_message(content="refreshed", embed=embed, view=self)

    @discord.ui.button(label="Stamp", custom_id="card:stamp")
    async def stamp(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.defer()
        await self.origin.edit_original_response(content=f"stamped by {interaction.user.id}")


def add_commands(tree: app_commands.CommandTree, late_results: list[object]) -> None:
    @tree.command(description="Stats for a streamer")
    @app_commands.describe(streamer="Twitch login", days="How many days back")
    async def stats(
        interaction: discord.Interaction,
        streamer: str,
        days: app_commands.Range[int, 1, 30] = 7,
        live_only: bool = False,
    ) -> None:
        await interaction.response.send_message(f"{streamer} days={days} live_only={live_only}")

    @stats.autocomplete("streamer")
    async def streamer_autocomplete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        days = interaction.namespace.days
        return [
            app_commands.Choice(name=f"{s} ({days}d)", value=s) for s in STREAMERS if current in s
        ]

    @tree.command(description="A card with buttons")
    async def card(interaction: discord.Interaction) -> None:
        embed = discord.Embed(title="Card", description="v1", colour=0x9146FF)
        embed.add_field(name="Viewers", value="42").set_footer(text="StreamStats")
        await interaction.response.send_message(embed=embed, view=CardView(interaction))

    @tree.command(description="Only you can see this")
    async def secret(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("psst", ephemeral=True)

    @tree.command(description="Slow work")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await asyncio.sleep(0.05)
        await interaction.followup.send("done", embed=discord.Embed(title="Result"))
        await interaction.followup.send("extra", ephemeral=True)

    @tree.command(description="Sends an embed Discord refuses")
    async def toolong(interaction: discord.Interaction) -> None:
        try:
            await interaction.response.send_message(embed=discord.Embed(description="x" * 5000))
        except discord.HTTPException as exc:
            await interaction.response.send_message(f"rejected {exc.status} {exc.code}")

    @tree.command(description="Answers too late")
    async def late(interaction: discord.Interaction) -> None:
        await asyncio.sleep(0.3)
        try:
            await interaction.response.send_message("too late")
        except discord.HTTPException as exc:
            late_results.append(exc)

    @tree.command(description="Exports a file")
    async def export(interaction: discord.Interaction) -> None:
        file = discord.File(io.BytesIO(b"a,b\n1,2\n"), filename="stats.csv")
        await interaction.response.send_message("here", file=file)

    @tree.command(description="Shows a chart")
    async def chart(interaction: discord.Interaction, reference: str = "chart.png") -> None:
        embed = discord.Embed(title="Chart").set_image(url=f"attachment://{reference}")
        try:
            await interaction.response.send_message(embed=embed, file=chart_file())
        except discord.HTTPException as exc:
            await interaction.response.send_message(f"rejected {exc.status} {exc.code}")

    @tree.command(description="Uploads a file over the limit")
    async def huge(interaction: discord.Interaction) -> None:
        big = discord.File(io.BytesIO(b"x" * (ATTACHMENT_SIZE_LIMIT + 1)), filename="big.bin")
        try:
            await interaction.response.send_message("big", file=big)
        except discord.HTTPException as exc:
            await interaction.response.send_message(f"rejected {exc.status} {exc.code}")

    @tree.command(description="Who is that")
    async def whois(interaction: discord.Interaction, member: discord.Member) -> None:
        await interaction.response.send_message(f"{member.id} {member.name}", ephemeral=True)

    alerts = app_commands.Group(name="alerts", description="Go-live alerts")

    @alerts.command(name="add", description="Add an alert")
    async def alerts_add(
        interaction: discord.Interaction, streamer: str, channel: discord.TextChannel
    ) -> None:
        await interaction.response.send_message(f"{streamer} -> #{channel.name} ({channel.id})")

    tree.add_command(alerts)


class StatsBot(commands.Bot):
    tree: RecordingTree

    def __init__(self, *, sync_guild_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            help_command=None,
            tree_cls=RecordingTree,
            **kwargs,
        )
        self.sync_guild_id = sync_guild_id
        self.late_results: list[object] = []
        add_commands(self.tree, self.late_results)

    async def setup_hook(self) -> None:
        if self.sync_guild_id is not None:
            guild = discord.Object(self.sync_guild_id)
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        await self.tree.sync()


class ShardedStatsBot(commands.AutoShardedBot):
    tree: RecordingTree

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            help_command=None,
            tree_cls=RecordingTree,
            **kwargs,
        )
        add_commands(self.tree, [])

    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None  # the real hook sleeps 5 s between shards


@contextlib.asynccontextmanager
async def running(
    fake: FakeDiscord, bot: commands.Bot, *, shards: int = 1
) -> AsyncIterator[commands.Bot]:
    """Run ``bot`` against ``fake`` until the block ends, then close it cleanly."""
    with patched_discord(fake):
        task = asyncio.create_task(bot.start(fake.token))
        identified = asyncio.create_task(fake.wait_until_identified(shards=shards))
        try:
            await asyncio.wait({task, identified}, return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                identified.cancel()
                task.result()  # raises the start-up error
                raise AssertionError("bot.start() returned before identifying")
            identified.result()
            yield bot
        finally:
            identified.cancel()
            await bot.close()
            await asyncio.wait_for(task, timeout=5)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[StatsBot]:
    bot = StatsBot(sync_guild_id=fake.guild_id)
    async with running(fake, bot):
        await fake.wait_for_commands(names=["stats", "card", "alerts"])
        yield bot
    assert bot.tree.errors == []


async def test_login_sync_and_gateway(fake: FakeDiscord, bot: StatsBot) -> None:
    assert ("GET", "/users/@me", None) in fake.requests
    assert ("GET", "/oauth2/applications/@me", None) in fake.requests
    assert fake.synced_guild_ids == [fake.guild_id, None]
    stats = fake.commands["stats"]
    assert stats["application_id"] == str(fake.application_id)
    assert [o["name"] for o in stats["options"]] == ["streamer", "days", "live_only"]
    assert stats["options"][0]["autocomplete"] is True
    assert bot.user is not None and bot.user.id == fake.bot_user_id
    assert bot.application_id == fake.application_id
    assert fake.identifies[0]["intents"] == discord.Intents.default().value
    for _ in range(100):
        if bot.get_guild(fake.guild_id) is not None:
            break
        await asyncio.sleep(0.01)
    guild = bot.get_guild(fake.guild_id)
    assert guild is not None and guild.get_channel(fake.channel_id) is not None
    assert guild.me is not None
    assert fake.violations == [] and fake.unhandled == []


async def test_slash_command_with_options(fake: FakeDiscord, bot: StatsBot) -> None:
    ia = await fake.slash("stats", {"streamer": "xqc", "days": 3})
    msg = await ia.wait_for_message()
    assert msg["content"] == "xqc days=3 live_only=False"
    assert msg["author"]["id"] == str(fake.bot_user_id)
    assert msg["flags"] & EPHEMERAL == 0
    assert ia.responses[0]["type"] == 4
    assert ia.message()["id"] == msg["id"]

    ia = await fake.slash("stats", {"streamer": "lirik", "live_only": True}, user_id=OTHER_USER_ID)
    assert (await ia.wait_for_message())["content"] == "lirik days=7 live_only=True"

    with pytest.raises(ValueError, match="outside"):
        await fake.slash("stats", {"streamer": "xqc", "days": 31})
    with pytest.raises(ValueError, match="missing required"):
        await fake.slash("stats", {"days": 3})
    with pytest.raises(ValueError, match="no option"):
        await fake.slash("stats", {"streamer": "xqc", "weeks": 3})
    assert fake.violations == []


async def test_autocomplete(fake: FakeDiscord, bot: StatsBot) -> None:
    ia = await fake.autocomplete("stats", "streamer", "s", {"days": 3})
    response = await ia.wait_for_response()
    assert response["type"] == 8
    names = [c["name"] for c in response["data"]["choices"]]
    assert names == ["shroud (3d)", "summit1g (3d)", "sodapoppin (3d)", "sykkuno (3d)"]
    assert fake.violations == []


async def test_embed_view_buttons_and_edits(fake: FakeDiscord, bot: StatsBot) -> None:
    card = await fake.slash("card")
    msg = await card.wait_for_message()
    assert msg["embeds"][0]["title"] == "Card"
    assert msg["embeds"][0]["fields"] == [{"name": "Viewers", "value": "42", "inline": True}]
    buttons = [c for row in msg["components"] for c in row["components"]]
    assert [b["custom_id"] for b in buttons] == ["card:refresh", "card:stamp"]

    click = await fake.click(msg, "card:refresh")
    assert (await click.wait_for_response())["type"] == 7
    updated = await click.wait_for_message()
    assert updated["id"] == msg["id"]
    assert updated["content"] == "refreshed"
    assert card.message()["embeds"][0]["description"] == "v2"

    since = len(card.edits)
    click = await fake.click(msg, "card:stamp", user_id=OTHER_USER_ID)
    assert (await click.wait_for_response())["type"] == 6
    edited = await card.wait_for_edit(since=since)
    assert edited["content"] == f"stamped by {OTHER_USER_ID}"
    assert edited["edited_timestamp"] is not None
    assert card.edits[-1]["content"] == f"stamped by {OTHER_USER_ID}"
    assert card.message()["embeds"][0]["description"] == "v2"  # untouched by the edit

    with pytest.raises(ValueError, match="no component"):
        await fake.click(msg, "card:nope")
    assert fake.violations == []


async def test_ephemeral_reply_and_resolved_options(fake: FakeDiscord, bot: StatsBot) -> None:
    ia = await fake.slash("secret")
    msg = await ia.wait_for_message()
    assert msg["content"] == "psst"
    assert msg["flags"] & EPHEMERAL

    ia = await fake.slash("whois", {"member": OTHER_USER_ID})
    name = fake.user(OTHER_USER_ID)["username"]
    assert (await ia.wait_for_message())["content"] == f"{OTHER_USER_ID} {name}"

    ia = await fake.slash(
        "alerts", {"streamer": "xqc", "channel": fake.channel_id}, subcommand="add"
    )
    assert (await ia.wait_for_message())["content"] == f"xqc -> #general ({fake.channel_id})"
    assert fake.violations == []


async def test_deferred_reply_and_followups(fake: FakeDiscord, bot: StatsBot) -> None:
    ia = await fake.slash("slow")
    assert (await ia.wait_for_response())["type"] == 5
    msg = await ia.wait_for_message()
    assert msg["content"] == "done"
    assert msg["embeds"][0]["title"] == "Result"
    assert msg["id"] == str(ia.original_message_id)  # the first follow-up replaces "thinking..."
    for _ in range(100):
        if len(ia.followups) == 2:
            break
        await asyncio.sleep(0.01)
    assert [f["content"] for f in ia.followups] == ["done", "extra"]
    extra = fake.messages[max(ia.message_ids)]
    assert extra["content"] == "extra" and extra["flags"] & EPHEMERAL
    assert ia.message()["flags"] & LOADING == 0
    assert fake.violations == []


async def test_file_upload_and_channel_message(fake: FakeDiscord, bot: StatsBot) -> None:
    ia = await fake.slash("export")
    msg = await ia.wait_for_message()
    assert msg["content"] == "here"
    assert [(a["filename"], a["size"]) for a in msg["attachments"]] == [("stats.csv", 8)]

    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("live now", embed=discord.Embed(title="xqc is live"))
    posted = fake.channel_messages[-1]
    assert posted["id"] == str(sent.id) and posted["embeds"][0]["title"] == "xqc is live"
    await sent.edit(content="was live")
    assert fake.messages[sent.id]["content"] == "was live"
    assert fake.violations == []


async def test_limits_are_enforced_like_discord(fake: FakeDiscord, bot: StatsBot) -> None:
    ia = await fake.slash("toolong")
    msg = await ia.wait_for_message()
    assert msg["content"] == "rejected 400 50035"
    assert len(ia.responses) == 1  # the rejected callback did not acknowledge
    assert fake.violations == [
        f"interaction {ia.id} ('/toolong') callback: data.embeds.0.description:"
        " Must be 4096 or fewer in length."
    ]


async def test_reconnect_resumes_the_session(fake: FakeDiscord, bot: StatsBot) -> None:
    await fake.reconnect()
    assert fake.resumes == 1 and len(fake.identifies) == 1
    ia = await fake.slash("secret")
    assert (await ia.wait_for_message())["content"] == "psst"


async def test_late_callback_is_unknown_interaction() -> None:
    async with FakeDiscord(interaction_deadline=0.15) as fake:
        bot = StatsBot()
        async with running(fake, bot):
            await fake.wait_for_commands(names=["late"])
            ia = await fake.slash("late")
            with pytest.raises(TimeoutError):
                await ia.wait_for_response(timeout=0.5)
        assert len(bot.late_results) == 1
        error = bot.late_results[0]
        assert isinstance(error, discord.NotFound) and error.code == 10062
        assert ia.responses == []
        assert any("was not answered within 0.15 s" in v for v in fake.violations)
        assert any("callback: arrived" in v for v in fake.violations)


async def test_sharded_bot_gets_interactions_on_the_right_shard() -> None:
    async with FakeDiscord(recommended_shards=2) as fake:
        other_guild = fake.guild_id + (1 << 22)  # lands on the other shard
        fake.add_guild(other_guild, name="Second")
        bot = ShardedStatsBot()
        async with running(fake, bot, shards=2):
            await fake.wait_for_commands(names=["stats"])
            assert ("GET", "/gateway/bot", None) in fake.requests
            assert sorted(i["shard"][0] for i in fake.identifies) == [0, 1]
            for guild_id in (fake.guild_id, other_guild):
                ia = await fake.slash("stats", {"streamer": "xqc"}, guild_id=guild_id)
                assert ia.shard_id == (guild_id >> 22) % 2
                assert (await ia.wait_for_message())["content"] == "xqc days=7 live_only=False"
        assert bot.tree.errors == []
        assert fake.violations == []


async def test_protocol_details_over_raw_http_and_websocket(fake: FakeDiscord) -> None:
    auth = {"Authorization": f"Bot {fake.token}"}
    api = yarl.URL(fake.api_url)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{api}/users/@me") as resp:
            assert resp.status == 401
            assert resp.headers["Content-Type"] == "application/json"
        async with http.get(f"{api}/gateway/bot", headers=auth) as resp:
            assert resp.headers["Content-Type"] == "application/json"
            body = await resp.json()
            assert body["url"] == fake.gateway_url and body["shards"] == 1
        async with http.get(f"{api}/nope", headers=auth) as resp:
            assert resp.status == 404
        assert fake.unhandled == ["GET /nope"]

        choices = [{"name": str(i), "value": str(i)} for i in range(26)]
        option = {"type": 3, "name": "s", "description": "d", "choices": choices}
        bad = [{"name": "Stats", "description": "x", "options": [option]}]
        async with http.put(
            f"{api}/applications/{fake.application_id}/commands", json=bad, headers=auth
        ) as resp:
            assert resp.status == 400
            body = await resp.json()
            assert body["code"] == 50035
            assert "0" in body["errors"] and "name" in body["errors"]["0"]
            assert (
                body["errors"]["0"]["options"]["0"]["choices"]["_errors"][0]["code"]
                == "BASE_TYPE_MAX_LENGTH"
            )
        assert len(fake.violations) == 2
        fake.violations.clear()

        good = [{"name": "ping", "description": "Ping", "type": 1}]
        async with http.put(
            f"{api}/applications/{fake.application_id}/commands", json=good, headers=auth
        ) as resp:
            assert (await resp.json())[0]["id"] == fake.commands["ping"]["id"]

        fake.inject_error("GET", r"^/users/@me$", status=429, retry_after=0.01)
        async with http.get(f"{api}/users/@me", headers=auth) as resp:
            assert resp.status == 429 and resp.headers["Via"]
        async with http.get(f"{api}/users/@me", headers=auth) as resp:
            assert resp.status == 200

        async with http.ws_connect(f"{fake.gateway_url}?v=10&encoding=json") as ws:
            hello = await ws.receive_json()
            assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
            await ws.send_json({"op": 1, "d": None})
            assert (await ws.receive_json())["op"] == 11
            identify = {"token": fake.token, "intents": 1, "properties": {}, "shard": [0, 1]}
            await ws.send_json({"op": 2, "d": identify})
            ready = await ws.receive_json()
            assert (ready["t"], ready["s"], ready["d"]["shard"]) == ("READY", 1, [0, 1])
            guild_create = await ws.receive_json()
            assert guild_create["t"] == "GUILD_CREATE"
            assert guild_create["d"]["channels"][0]["id"] == str(fake.channel_id)
            await fake.wait_until_identified()

            ia = await fake.slash("ping")
            event = await ws.receive_json()
            assert event["t"] == "INTERACTION_CREATE"
            payload = event["d"]
            assert payload["attachment_size_limit"] > 0 and payload["data"]["name"] == "ping"
            assert payload["member"]["user"]["id"] == str(DEFAULT_USER_ID)

            url = f"{api}/interactions/{payload['id']}/{payload['token']}/callback?with_response=1"
            reply = {"type": 4, "data": {"content": "pong"}}
            async with http.post(url, json=reply) as resp:
                assert resp.status == 200
                assert resp.headers["Content-Type"] == "application/json"
                body = await resp.json()
                assert body["resource"]["message"]["content"] == "pong"
                assert (
                    body["interaction"]["response_message_id"] == body["resource"]["message"]["id"]
                )
            async with http.post(url, json=reply) as resp:
                assert resp.status == 400 and (await resp.json())["code"] == 40060
            bogus = f"{api}/interactions/{payload['id']}/not-the-token/callback"
            async with http.post(bogus, json=reply) as resp:
                assert resp.status == 404 and (await resp.json())["code"] == 10062
            assert ia.responses == [reply]
            assert fake.violations == [
                f"interaction {ia.id} ('/ping') callback: interaction has already been acknowledged"
            ]

            hook = f"{api}/webhooks/{fake.application_id}/{payload['token']}"
            buttons = [
                {"type": 2, "style": 1, "label": "x" * 81, "custom_id": str(i)} for i in range(6)
            ]
            rows = [{"type": 1, "components": buttons}]
            async with http.post(
                f"{hook}?wait=1", json={"content": "y", "components": rows}
            ) as resp:
                assert resp.status == 400
                errors = (await resp.json())["errors"]["components"]["0"]
                assert "components" in errors and "label" in errors["components"]["0"]
            async with http.patch(
                f"{hook}/messages/@original", json={"content": "z" * 2001}
            ) as resp:
                assert resp.status == 400
            edit = json.dumps({"content": "edited"})
            json_header = {"Content-Type": "application/json"}
            async with http.patch(
                f"{hook}/messages/@original", data=edit, headers=json_header
            ) as resp:
                assert resp.status == 200 and (await resp.json())["content"] == "edited"
            assert ia.message()["content"] == "edited"


async def test_attachment_keeps_bytes_and_description_and_the_embed_shows_it(
    fake: FakeDiscord, bot: StatsBot
) -> None:
    assert png_dimensions(CHART_PNG) == (40, 30)
    ia = await fake.slash("chart")
    msg = await ia.wait_for_message()
    [attachment] = msg["attachments"]
    assert attachment["filename"] == "chart.png"
    assert attachment["description"] == "A grey square"
    assert (attachment["content_type"], attachment["width"], attachment["height"]) == (
        "image/png",
        40,
        30,
    )
    assert fake.attachment_bytes(attachment) == CHART_PNG
    assert msg["embeds"][0]["image"]["url"] == attachment["url"]  # resolved, as Discord does
    assert fake.embed_image(msg) == attachment
    assert fake.violations == []


async def test_embed_naming_no_uploaded_file_is_refused(fake: FakeDiscord, bot: StatsBot) -> None:
    ia = await fake.slash("chart", {"reference": "missing.png"})
    assert (await ia.wait_for_message())["content"] == "rejected 400 50035"
    assert fake.violations == [
        f"interaction {ia.id} ('/chart') callback: embeds.0.image.url: "
        "attachment://missing.png names no attachment of the message"
    ]


async def test_file_over_the_upload_limit_is_refused(fake: FakeDiscord, bot: StatsBot) -> None:
    ia = await fake.slash("huge")
    assert (await ia.wait_for_message())["content"] == "rejected 413 40005"
    assert len(fake.violations) == 1
    assert "over the 10,485,760-byte upload limit" in fake.violations[0]


async def test_edits_keep_attachments_unless_told_otherwise(
    fake: FakeDiscord, bot: StatsBot
) -> None:
    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    embed = discord.Embed(title="page 1").set_image(url="attachment://chart.png")
    sent = await channel.send(embed=embed, file=chart_file())
    page_two = discord.Embed(title="page 2").set_image(url="attachment://chart.png")
    await sent.edit(embed=page_two)  # no `attachments`: the chart stays, the embed still shows it
    message = fake.messages[sent.id]
    assert message["embeds"][0]["title"] == "page 2"
    assert fake.embed_image(message) == message["attachments"][0]
    assert fake.violations == []

    with pytest.raises(discord.HTTPException) as refused:
        await sent.edit(embed=page_two, attachments=[])  # drops the file the embed shows
    assert refused.value.status == 400
    assert fake.violations == [
        f"PATCH /channels/{fake.channel_id}/messages/{sent.id}: embeds.0.image.url: "
        "attachment://chart.png names no attachment of the message"
    ]


async def test_attachment_metadata_rules_over_raw_http(fake: FakeDiscord) -> None:
    auth = {"Authorization": f"Bot {fake.token}"}
    url = f"{fake.api_url}/channels/{fake.channel_id}/messages"

    async def post(payload: dict[str, Any], filename: str, part: str = "files[0]") -> int:
        form = aiohttp.FormData()
        form.add_field("payload_json", json.dumps(payload), content_type="application/json")
        form.add_field(part, CHART_PNG, filename=filename, content_type="image/png")
        async with http.post(url, data=form, headers=auth) as resp:
            return resp.status

    async with aiohttp.ClientSession() as http:
        described = {"attachments": [{"id": 0, "filename": "a.png", "description": "x" * 1024}]}
        assert await post(described, "upload.png") == 200
        assert fake.channel_messages[-1]["attachments"][0]["filename"] == "a.png"
        assert fake.violations == []

        too_long = {"attachments": [{"id": 0, "description": "x" * 1025}]}
        assert await post(too_long, "a.png") == 400
        assert await post({"attachments": [{"id": 7}]}, "a.png") == 400
        renamed = {"attachments": [{"id": 0, "filename": "../etc/a.png"}]}
        assert await post(renamed, "a.png") == 400
        assert await post({}, "a.png", part="file") == 400
    assert [line.split(": ", 1)[1] for line in fake.violations] == [
        "attachments.0.description: Must be 1024 or fewer in length.",
        "attachments.0.id: attachment '7' is neither a file of this request nor of the message",
        "files.0: file name '../etc/a.png' holds a path separator or a control character",
        "files: unknown form part 'file'",
    ]
