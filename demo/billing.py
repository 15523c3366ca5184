"""The demo billing system ("FAKTURA 2000"): an older look, its own wording, a modal confirm.

Robots find the account by customer number, open "Change billing address", fill Street /
ZIP code / Town, submit, confirm in a modal dialog, and wait for "Billing address updated"
after a slow save (a full page post).
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from demo.common import DemoApp, LoginForm, esc, rid

CSS = """
body { font-family: "Courier New", monospace; font-size: 14px; margin: 0; background: #d4d0c8; color: #000; }
header { background: #000080; color: #fff; padding: 4px 8px; display: flex; gap: 12px; }
header .brand { flex: 1; font-weight: bold; letter-spacing: 1px; }
main { padding: 10px; }
table.frame { border: 2px outset #fff; background: #d4d0c8; }
table.data { border-collapse: collapse; background: #fff; }
table.data th, table.data td { border: 1px solid #808080; padding: 2px 8px; text-align: left; }
input { font-family: inherit; border: 2px inset #fff; }
button { font-family: inherit; border: 2px outset #fff; background: #d4d0c8; padding: 2px 10px; }
.error { color: #c00; font-weight: bold; } .ok { color: #006400; font-weight: bold; } .notice { color: #800000; }
dialog { border: 2px outset #fff; background: #d4d0c8; } dialog h2 { background: #000080; color: #fff; margin: -8px -8px 8px; padding: 4px; font-size: 14px; }
form.login { display: grid; grid-template-columns: 120px 200px; gap: 6px; }
form.inline { display: inline; }
"""

ZIP = re.compile(r"^[0-9]{5}$")


def create(data_dir: Path | None = None) -> DemoApp:
    """The billing app."""
    billing = DemoApp(
        "billing",
        "FAKTURA 2000 - Billing",
        CSS,
        LoginForm(
            heading="Log on to FAKTURA 2000", user_label="User ID", password_label="Passcode", button="Log on"
        ),
        "/accounts",
        data_dir,
    )
    app = billing.app

    def by_account(account: str) -> dict[str, str] | None:
        return next((c for c in billing.customers.values() if c["account"] == account), None)

    @app.get("/accounts", response_class=HTMLResponse)
    def find(request: Request, customer: str = "") -> Response:
        login = billing.login_of(request)
        if login is None:
            return billing.to_login(request)
        if customer.strip():
            found = billing.customers.get(customer.strip().upper())
            if found is not None:
                return RedirectResponse(f"/accounts/{found['account']}", status_code=303)
            notice = f'<p class="error" role="alert">NO ACCOUNT FOR CUSTOMER {esc(customer)}</p>'
        else:
            notice = ""
        field = rid()
        body = f"""<h1>Account search</h1>{notice}
<table class="frame"><tr><td><form method="get" action="/accounts">
<label for="{field}">Customer no.</label> <input id="{field}" name="customer" size="10">
<button type="submit">Find account</button></form></td></tr></table>"""
        return billing.page("Account search", body, login=login)

    @app.get("/accounts/{account}", response_class=HTMLResponse)
    def account_page(request: Request, account: str, updated: int = 0, error: str = "") -> Response:
        login = billing.login_of(request)
        if login is None:
            return billing.to_login(request)
        customer = by_account(account)
        if customer is None:
            return billing.page(
                "Unknown account",
                f'<p class="error" role="alert">UNKNOWN ACCOUNT {esc(account)}</p>',
                login=login,
                status=404,
            )
        street, zip_code, town = rid(), rid(), rid()
        message = '<p class="ok" role="status">Billing address updated</p>' if updated else ""
        if error:
            message = f'<p class="error" role="alert">{esc(error)}</p>'
        button = "Submit change" if billing.v2 else "Submit"
        body = f"""<h1>Account {esc(account)}</h1>{message}
<table class="data" aria-label="Billing address">
<tr><th>Account holder</th><td>{esc(customer["name"])}</td></tr>
<tr><th>Customer no.</th><td>{esc(customer["id"])}</td></tr>
<tr><th>Street</th><td data-testid="billing-street">{esc(customer["street"])}</td></tr>
<tr><th>ZIP code</th><td data-testid="billing-zip">{esc(customer["postal_code"])}</td></tr>
<tr><th>Town</th><td data-testid="billing-town">{esc(customer["city"])}</td></tr></table>
<p><button type="button" onclick="document.getElementById('change').hidden = false">Change billing address</button></p>
<form id="change" method="post" action="/accounts/{esc(account)}/address" hidden onsubmit="return ask(event)">
<table class="frame">
<tr><td><label for="{street}">Street</label></td><td><input id="{street}" name="street" size="40" value="{esc(customer["street"])}"></td></tr>
<tr><td><label for="{zip_code}">ZIP code</label></td><td><input id="{zip_code}" name="zip" size="6" value="{esc(customer["postal_code"])}"></td></tr>
<tr><td><label for="{town}">Town</label></td><td><input id="{town}" name="town" size="30" value="{esc(customer["city"])}"></td></tr>
<tr><td></td><td><button type="submit">{button}</button></td></tr></table></form>
<dialog id="confirm" aria-labelledby="confirm-title"><h2 id="confirm-title">Confirm change</h2>
<p>Change the billing address of account {esc(account)}?</p>
<button type="button" onclick="document.getElementById('confirm').close(); document.getElementById('change').dataset.ok = '1'; document.getElementById('change').requestSubmit();">Confirm</button>
<button type="button" onclick="document.getElementById('confirm').close()">Cancel</button></dialog>
<script>
function ask(event) {{
  const form = event.target;
  if (form.dataset.ok === '1') {{ form.dataset.ok = ''; document.body.style.cursor = 'wait'; return true; }}
  event.preventDefault(); document.getElementById('confirm').showModal(); return false;
}}
</script>"""
        return billing.page(f"Account {account}", body, login=login)

    @app.post("/accounts/{account}/address")
    async def change(request: Request, account: str) -> Response:
        login = billing.login_of(request)
        if login is None:
            return billing.to_login(request)
        customer = by_account(account)
        if customer is None:
            return billing.page(
                "Unknown account", '<p class="error" role="alert">UNKNOWN ACCOUNT</p>', status=404
            )
        form = await request.form()
        street, zip_code, town = (str(form.get(k, "")).strip() for k in ("street", "zip", "town"))
        if not ZIP.match(zip_code):
            return RedirectResponse(f"/accounts/{account}?error=ZIP code invalid", status_code=303)
        if not street or not town:
            return RedirectResponse(
                f"/accounts/{account}?error=Street and town are required", status_code=303
            )
        await billing.work(400)
        with billing.lock:
            before = {
                "street": customer["street"],
                "postal_code": customer["postal_code"],
                "city": customer["city"],
            }
            customer.update(street=street, postal_code=zip_code, city=town)
            after = {"street": street, "postal_code": zip_code, "city": town}
        billing.audit(login, "address_changed", customer["id"], before, after)
        return RedirectResponse(f"/accounts/{account}?updated=1", status_code=303)

    return billing
