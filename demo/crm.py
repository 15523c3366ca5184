"""The demo CRM: customers, contact data, customer value, contact history.

Robots log in, search a customer, open the detail page, and change the address in a form
inside an iframe: client-side validation, a JS confirm, a slow save with a spinner, then
"Address saved". Told ``markup: v2`` it renames its labels and buttons.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from demo.common import DemoApp, LoginForm, esc, rid

CSS = """
body { font-family: system-ui, sans-serif; margin: 0; background: #f4f6f9; color: #1c2430; }
header { background: #1f4e79; color: white; padding: 10px 20px; display: flex; gap: 16px; align-items: center; }
header .brand { font-weight: 600; flex: 1; } header button { font-size: 12px; }
main { padding: 20px; max-width: 980px; }
form.login, form.search { display: grid; grid-template-columns: 160px 260px; gap: 8px; align-items: center; }
form.inline { display: inline; }
table { border-collapse: collapse; width: 100%; background: white; margin: 12px 0; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #dde3ea; }
th { background: #e8eef5; }
.card { background: white; padding: 14px 18px; border-radius: 6px; margin: 12px 0; box-shadow: 0 1px 2px #0002; }
dl { display: grid; grid-template-columns: 180px 1fr; gap: 4px 12px; } dt { color: #5a6a7e; }
.error { color: #b00020; } .notice { color: #8a5a00; } .ok { color: #0a7a2f; font-weight: 600; }
button { background: #1f4e79; color: white; border: 0; padding: 6px 14px; border-radius: 4px; cursor: pointer; }
iframe { width: 100%; height: 320px; border: 1px solid #c7d0db; background: white; }
.spinner { display: inline-block; width: 14px; height: 14px; border: 3px solid #c7d0db; border-top-color: #1f4e79;
  border-radius: 50%; animation: spin 0.8s linear infinite; vertical-align: middle; }
@keyframes spin { to { transform: rotate(360deg); } }
"""

POSTAL = re.compile(r"^[0-9]{5}$")


def create(data_dir: Path | None = None) -> DemoApp:
    """The CRM app."""
    crm = DemoApp("crm", "CRM - Customer Relationship Manager", CSS, LoginForm(), "/customers", data_dir)
    app = crm.app

    def labels() -> dict[str, str]:
        if crm.v2:
            return {
                "street": "Street and house number",
                "postal": "ZIP / Postal code",
                "city": "Town",
                "edit": "Change address",
                "save": "Store",
            }
        return {
            "street": "Street",
            "postal": "Postal code",
            "city": "City",
            "edit": "Edit address",
            "save": "Save address",
        }

    @app.get("/customers", response_class=HTMLResponse)
    def search(request: Request, q: str = "") -> Response:
        login = crm.login_of(request)
        if login is None:
            return crm.to_login(request)
        field = rid()
        rows = ""
        if q.strip():
            needle = q.strip().casefold()
            found = [
                c
                for c in crm.customers.values()
                if needle in c["id"].casefold()
                or needle in c["name"].casefold()
                or needle == c["postal_code"]
                or needle == c["order_number"].casefold()
            ]
            rows = "".join(
                f'<tr><td>{esc(c["id"])}</td><td><a href="/customers/{esc(c["id"])}">{esc(c["name"])}</a></td>'
                f"<td>{esc(c['postal_code'])}</td><td>{esc(c['city'])}</td></tr>"
                for c in found
            )
            rows = (
                f'<table id="{rid()}" aria-label="Search results"><thead><tr><th>Customer number</th><th>Name</th>'
                f"<th>Postal code</th><th>City</th></tr></thead><tbody>{rows}</tbody></table>"
                if found
                else '<p role="status">No customers found.</p>'
            )
        body = f"""<h1>Customers</h1>
<form class="search" method="get" action="/customers" role="search">
<label for="{field}">Search customers</label>
<input id="{field}" name="q" value="{esc(q)}" placeholder="Customer number, name or postal code">
<button type="submit">Search</button></form>{rows}"""
        return crm.page("Customers", body, login=login)

    @app.get("/customers/{customer_id}", response_class=HTMLResponse)
    def detail(request: Request, customer_id: str) -> Response:
        login = crm.login_of(request)
        if login is None:
            return crm.to_login(request)
        customer = crm.customers.get(customer_id)
        if customer is None:
            return crm.page(
                "Not found",
                f'<h1>Customer not found</h1><p role="alert">No customer {esc(customer_id)}.</p>',
                login=login,
                status=404,
            )
        text = labels()
        history = "".join(
            f"<tr><td>{esc(h['date'])}</td><td>{esc(h['channel'])}</td><td>{esc(h['note'])}</td></tr>"
            for h in customer["history"]
        )
        products = ", ".join(esc(p) for p in customer["products"]) or "none"
        body = f"""<h1>Customer {esc(customer["name"])}</h1>
<section class="card" aria-label="Contact data"><h2>Contact data</h2><dl>
<dt>Customer number</dt><dd data-testid="customer-number">{esc(customer["id"])}</dd>
<dt>{esc(text["street"])}</dt><dd data-testid="street">{esc(customer["street"])}</dd>
<dt>{esc(text["postal"])}</dt><dd data-testid="postal-code">{esc(customer["postal_code"])}</dd>
<dt>{esc(text["city"])}</dt><dd data-testid="city">{esc(customer["city"])}</dd>
<dt>Phone</dt><dd data-testid="phone">{esc(customer["phone"])}</dd>
<dt>E-mail</dt><dd data-testid="email">{esc(customer["email"])}</dd>
<dt>Order</dt><dd data-testid="order-number">{esc(customer["order_number"])}</dd></dl>
<button type="button" onclick="openEditor()">{esc(text["edit"])}</button>
<div id="editor"></div></section>
<section class="card" aria-label="Customer value"><h2>Customer value</h2><dl>
<dt>Segment</dt><dd data-testid="segment">{esc(customer["segment"])}</dd>
<dt>Annual revenue</dt><dd data-testid="annual-revenue">{esc(customer["annual_revenue"])} EUR</dd>
<dt>Payment behaviour</dt><dd data-testid="payment-behaviour">{esc(customer["payment_behaviour"])}</dd>
<dt>Customer since</dt><dd data-testid="customer-since">{esc(customer["customer_since"])}</dd>
<dt>Products</dt><dd data-testid="products">{products}</dd></dl></section>
<section class="card"><h2>Contact history</h2>
<table aria-label="Contact history"><thead><tr><th>Date</th><th>Channel</th><th>Note</th></tr></thead><tbody>{history}</tbody></table></section>
<script>
function openEditor() {{
  document.getElementById('editor').innerHTML =
    '<iframe title="Edit address" src="/customers/{esc(customer["id"])}/address-form"></iframe>';
}}
</script>"""
        return crm.page(customer["name"], body, login=login)

    @app.get("/customers/{customer_id}/address-form", response_class=HTMLResponse)
    def address_form(request: Request, customer_id: str) -> Response:
        login = crm.login_of(request)
        if login is None:
            return crm.to_login(request)
        customer = crm.customers.get(customer_id)
        if customer is None:
            return HTMLResponse("<p role='alert'>No such customer.</p>", status_code=404)
        text = labels()
        street, postal, city = rid(), rid(), rid()
        return HTMLResponse(f"""<!doctype html><html><head><meta charset="utf-8"><style>{CSS}
body {{ padding: 12px; background: white; }} form {{ display: grid; grid-template-columns: 200px 260px; gap: 8px; }}</style></head>
<body><h2>{esc(text["edit"])}</h2>
<form onsubmit="save(event)" novalidate>
<label for="{street}">{esc(text["street"])}</label><input id="{street}" name="street" value="{esc(customer["street"])}">
<label for="{postal}">{esc(text["postal"])}</label><input id="{postal}" name="postal_code" value="{esc(customer["postal_code"])}">
<label for="{city}">{esc(text["city"])}</label><input id="{city}" name="city" value="{esc(customer["city"])}">
<span></span><button type="submit">{esc(text["save"])}</button></form>
<p id="message" role="status"></p><p id="problem" class="error" role="alert"></p>
<script>
async function save(event) {{
  event.preventDefault();
  const form = event.target, problem = document.getElementById('problem'), message = document.getElementById('message');
  problem.textContent = ''; message.textContent = '';
  const body = {{street: form.street.value.trim(), postal_code: form.postal_code.value.trim(), city: form.city.value.trim()}};
  if (!body.street || !body.city) {{ problem.textContent = 'Street and city are required'; return; }}
  if (!/^[0-9]{{5}}$/.test(body.postal_code)) {{ problem.textContent = 'Postal code must have 5 digits'; return; }}
  if (!confirm('Save the new address?')) {{ message.textContent = 'Not saved'; return; }}
  message.innerHTML = '<span class="spinner"></span> Saving...';
  const response = await fetch('/api/customers/{esc(customer["id"])}/address', {{method: 'POST',
    headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify(body)}});
  const answer = await response.json().catch(() => ({{}}));
  if (response.ok) {{ message.innerHTML = '<span class="ok">Address saved</span>'; }}
  else {{ message.textContent = ''; problem.textContent = answer.error || ('Saving failed: HTTP ' + response.status); }}
}}
</script></body></html>""")

    @app.post("/api/customers/{customer_id}/address")
    async def save_address(request: Request, customer_id: str) -> Response:
        login = crm.login_of(request)
        if login is None:
            return JSONResponse({"error": "Your session has expired. Please sign in again."}, status_code=401)
        customer = crm.customers.get(customer_id)
        if customer is None:
            return JSONResponse({"error": f"No customer {customer_id}"}, status_code=404)
        try:
            body: dict[str, Any] = await request.json()
        except ValueError:
            return JSONResponse({"error": "Send the address as JSON"}, status_code=400)
        street, postal, city = (str(body.get(k, "")).strip() for k in ("street", "postal_code", "city"))
        if not street or not city or not POSTAL.match(postal):
            return JSONResponse(
                {"error": "Postal code must have 5 digits; street and city are required"}, status_code=422
            )
        await crm.work(300)
        with crm.lock:
            before = {k: customer[k] for k in ("street", "postal_code", "city")}
            customer.update(street=street, postal_code=postal, city=city)
            after = {k: customer[k] for k in ("street", "postal_code", "city")}
        crm.audit(login, "address_changed", customer_id, before, after)
        return JSONResponse({"status": "saved", "address": after})

    return crm
