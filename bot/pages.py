"""The HTML pages of the web app: one escaped template, a success page and an error page."""

from __future__ import annotations

from datetime import datetime
from html import escape

from aiohttp import web

SECURITY_HEADERS = {
    # The pages load nothing from elsewhere and must not leak the callback URL (it holds the
    # OAuth code) or be stored anywhere (the success page shows an API token).
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

_TEMPLATE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · StreamStats</title>
<style>
  body {{ margin: 0; font: 16px/1.5 system-ui, sans-serif; background: #18181b; color: #efeff1; }}
  main {{ max-width: 40rem; margin: 4rem auto; padding: 2rem; background: #26262c;
         border-radius: 12px; border-top: 6px solid {accent}; }}
  h1 {{ margin-top: 0; font-size: 1.6rem; }}
  .brand {{ color: #bf94ff; font-weight: 700; letter-spacing: .05em; text-transform: uppercase;
           font-size: .8rem; }}
  dt {{ color: #adadb8; font-size: .85rem; margin-top: 1rem; }}
  dd {{ margin: .2rem 0 0; }}
  textarea {{ width: 100%; box-sizing: border-box; font: 13px/1.4 ui-monospace, monospace;
             background: #0e0e10; color: #efeff1; border: 1px solid #53535f; border-radius: 6px;
             padding: .6rem; resize: none; }}
  .next {{ margin-top: 1.5rem; padding: .8rem 1rem; background: #0e0e10; border-radius: 8px; }}
</style>
</head>
<body>
<main>
<div class="brand">StreamStats</div>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"""


def page(title: str, body_html: str, *, status: int = 200, ok: bool = True) -> web.Response:
    """A complete page; `title` is escaped here, `body_html` must already be safe."""
    html = _TEMPLATE.format(
        title=escape(title), body=body_html, accent="#00f593" if ok else "#eb0400"
    )
    return web.Response(
        text=html, status=status, content_type="text/html", headers=SECURITY_HEADERS
    )


def error_page(status: int, title: str, advice: str) -> web.Response:
    """What went wrong and what to do next."""
    return page(title, f'<p class="next">{escape(advice)}</p>', status=status, ok=False)


def linked_page(
    *, display_name: str, login: str, discord_id: str, api_token: str, expires_at: datetime
) -> web.Response:
    """The success page: who was linked, the API token and when it expires."""
    expiry = expires_at.strftime("%Y-%m-%d %H:%M UTC")
    body = f"""
<p>Your Discord account is now linked to the Twitch account
<strong id="twitch-account">{escape(display_name)}</strong> ({escape(login)}).</p>
<dl>
  <dt>Discord user</dt><dd id="discord-user">{escape(discord_id)}</dd>
  <dt>API token (a JWT; send it as <code>Authorization: Bearer …</code>)</dt>
  <dd><textarea id="api-token" rows="5" readonly>{escape(api_token)}</textarea></dd>
  <dt>Expires</dt><dd id="expires-at">{escape(expiry)} (one hour after linking)</dd>
</dl>
<p class="next">You can return to Discord now. When the hour is over, run /login again.</p>
"""
    return page("Twitch account linked", body)
