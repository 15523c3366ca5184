"""A small local web app with the tricky parts robots meet: iframes, dialogs, tabs, files."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

app = FastAPI()
STATE: dict[str, object] = {"logged_in": set(), "saves": 0, "uploads": []}

FORM = """<!doctype html><html><head><title>Form</title></head><body>
<h1>Customer</h1>
<label for="s1">Street</label><input id="s1" name="street">
<label for="c1">City</label><input id="c1" name="city" value="Berlin">
<label for="slot">Time slot</label><select id="slot"><option value="a">08:00-12:00</option><option value="b">12:00-16:00</option></select>
<label><input type="checkbox" id="ok"> I confirm</label>
<button onclick="if (confirm('Save the address?')) { fetch('/api/save', {method: 'POST'}).then(r => r.text()).then(t => { document.getElementById('msg').innerText = 'Saved ' + document.getElementById('s1').value; }); } else { document.getElementById('msg').innerText = 'Cancelled'; }">Save</button>
<button>Delete</button><button>Delete</button>
<div id="msg" role="status"></div>
<table id="slots"><thead><tr><th>Date</th><th>Window</th></tr></thead>
<tbody><tr><td>2026-12-01</td><td>08:00-12:00</td></tr><tr><td>2026-12-02</td><td>12:00-16:00</td></tr></tbody></table>
<a href="/popup" target="_blank">Open details</a>
<a href="/file.csv" download>Export</a>
<label for="up">Attachment</label><input type="file" id="up" onchange="fetch('/api/upload-name?n=' + this.files[0].name)">
<iframe title="Edit address" src="/frame"></iframe>
</body></html>"""


@app.get("/form", response_class=HTMLResponse)
def form() -> str:
    return FORM


@app.get("/frame", response_class=HTMLResponse)
def frame() -> str:
    return """<html><body><label for="z">Postal code</label><input id="z"><button onclick="document.getElementById('r').innerText='Frame saved '+document.getElementById('z').value">Save in frame</button><p id="r"></p></body></html>"""


@app.get("/late-frame", response_class=HTMLResponse)
def late_frame() -> str:
    """An iframe added 300 ms after the page loaded, holding the form's iframe (nested)."""
    return """<html><body><h1>Loading</h1><script>setTimeout(() => {
const outer = document.createElement('iframe'); outer.title = 'Outer'; outer.src = '/outer';
document.body.appendChild(outer); }, 300);</script></body></html>"""


@app.get("/outer", response_class=HTMLResponse)
def outer() -> str:
    return """<html><body><p>Outer</p><iframe title="Edit address" src="/frame"></iframe></body></html>"""


@app.get("/popup", response_class=HTMLResponse)
def popup() -> str:
    return "<html><head><title>Details</title></head><body><h1>Details page</h1></body></html>"


@app.get("/file.csv")
def file_csv() -> PlainTextResponse:
    return PlainTextResponse(
        "a,b\n1,2\n", headers={"Content-Disposition": 'attachment; filename="export.csv"'}
    )


@app.post("/api/save")
def save() -> PlainTextResponse:
    time.sleep(0.2)
    STATE["saves"] = int(STATE["saves"]) + 1  # type: ignore[call-overload]
    return PlainTextResponse("ok")


@app.get("/api/upload-name")
def upload_name(n: str) -> PlainTextResponse:
    STATE["uploads"].append(n)  # type: ignore[attr-defined]
    return PlainTextResponse("ok")


@app.get("/broken")
def broken() -> Response:
    return Response("down for maintenance", status_code=503)


@app.get("/login", response_class=HTMLResponse)
def login_page() -> str:
    return """<html><body><h1>Please sign in</h1><form method="post" action="/login">
<label for="u">User</label><input id="u" name="user"><label for="p">Password</label><input id="p" name="password" type="password">
<button type="submit">Sign in</button></form></body></html>"""


@app.post("/login")
async def login(request: Request) -> Response:
    form_data = await request.form()
    if form_data.get("password") != "pw-123":
        return HTMLResponse("<p>Wrong password</p>", status_code=401)
    token = f"t{time.time_ns()}"
    STATE["logged_in"].add(token)  # type: ignore[attr-defined]
    response = RedirectResponse("/home", status_code=303)
    response.set_cookie("session", token)
    return response


@app.get("/home", response_class=HTMLResponse)
def home(request: Request) -> Response:
    if request.cookies.get("session") not in STATE["logged_in"]:  # type: ignore[operator]
        return RedirectResponse("/login", status_code=303)
    return HTMLResponse("<html><body><h1>Welcome back</h1></body></html>")


@app.post("/expire")
def expire() -> PlainTextResponse:
    STATE["logged_in"] = set()
    return PlainTextResponse("ok")


RECORD = """<!doctype html><html><body><h1>Vertrag 4711</h1>
<dl><dt>Kunde</dt><dd>Emma Schulz</dd><dt>Segment</dt><dd> A </dd></dl>
<table><tr><th>Anschrift</th><td>Hauptstraße 5, 10115 Berlin</td></tr><tr><th>Tarif</th><td>Basis</td></tr></table>
<table aria-label="Orders"><thead><tr><th>Order</th><th>Status</th><th>Total</th></tr></thead>
<tbody><tr><td>O-100001</td><td>open</td><td>10 EUR</td></tr><tr><td>O-100002</td><td>shipped</td><td>20 EUR</td></tr></tbody></table>
</body></html>"""


@app.get("/record", response_class=HTMLResponse)
def record() -> str:
    return RECORD


@app.get("/counter", response_class=HTMLResponse)
def counter() -> str:
    STATE["counter"] = int(STATE.get("counter", 0)) + 1  # type: ignore[call-overload]
    return f"<html><body><p data-testid='count'>{STATE['counter']}</p></body></html>"


LOGIN_DE = """<html><body><h1>Anmelden</h1>{error}<form method="post" action="/login-de">
<label for="u">Benutzer</label><input id="u" name="user"><label for="p">Passwort</label>
<input id="p" name="password" type="password"><button type="submit">Anmelden</button></form></body></html>"""


@app.get("/login-de", response_class=HTMLResponse)
def login_de_page() -> str:
    return LOGIN_DE.format(error="")


@app.post("/login-de", response_class=HTMLResponse)
async def login_de(request: Request) -> Response:
    form_data = await request.form()
    if form_data.get("password") != "pw-123":  # the same form again, with the reason
        return HTMLResponse(LOGIN_DE.format(error='<p class="errornote">Anmeldung fehlgeschlagen.</p>'))
    return RedirectResponse("/home-de", status_code=303)


@app.get("/home-de", response_class=HTMLResponse)
def home_de() -> str:
    return "<html><body><h1>Willkommen</h1><button>Abmelden</button></body></html>"


@app.get("/language", response_class=HTMLResponse)
def language(request: Request) -> str:
    """The page in the browser's language, as apps that follow Accept-Language show it."""
    german = request.headers.get("accept-language", "").lower().startswith("de")
    heading = "Kunden" if german else "Customers"
    return f"<html><body><h1>{heading}</h1><p data-testid='sent'>{request.headers.get('accept-language')}</p></body></html>"


@app.get("/shouting", response_class=HTMLResponse)
def shouting() -> str:
    """Column headers the style sheet writes in capitals (as Django's admin does)."""
    return """<html><head><style>th { text-transform: uppercase; }</style></head><body>
<table><thead><tr><th>Kundennummer</th><th>Straße</th></tr></thead>
<tbody><tr><td>K000001</td><td>Hauptstraße 1</td></tr></tbody></table></body></html>"""


CAPITALS = "<style>a, button { text-transform: uppercase; }</style>"


@app.get("/enter", response_class=HTMLResponse)
def enter() -> str:
    """A search form sent with Enter, its button capitalised by the style sheet."""
    return f"""<html><head>{CAPITALS}</head><body><form method="get" action="/entered">
<label for="q">Customer number</label><input id="q" name="q"><button type="submit">Search</button>
</form></body></html>"""


@app.get("/entered", response_class=HTMLResponse)
def entered(q: str = "") -> str:
    return (
        f"<html><head>{CAPITALS}</head><body><p>Found {q}</p><a href='/counter'>Customers</a></body></html>"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve() -> Iterator[str]:
    """Run the app on a free loopback port; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
