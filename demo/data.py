"""Seed data of the demo back-office: the same customers in every system, and the logins."""

from __future__ import annotations

import copy
from typing import Any

# Robots log in with these (they reach robots through the vault, never through workflows).
LOGINS: dict[str, dict[str, str]] = {
    "crm": {"robot.crm": "crm-secret-1", "agent.anna": "anna-pw-2"},
    "billing": {"RBT01": "bill-pw-7"},
    "nordlog": {"robot@tandem.example": "nord-pw-3"},
    "suedexpress": {"TANDEM-4711": "5531"},
    "terminal": {"ROBOT": "term-pw-9"},
}

_PEOPLE = [
    ("Anna", "Schmidt", "Invalidenstraße 12", "10115", "Berlin"),
    ("Jonas", "Müller", "Mönckebergstraße 7", "20095", "Hamburg"),
    ("Lea", "Weber", "Marienplatz 3", "80331", "München"),
    ("Paul", "Wagner", "Hohe Straße 41", "50667", "Köln"),
    ("Mia", "Becker", "Zeil 90", "60311", "Frankfurt am Main"),
    ("Felix", "Hoffmann", "Königstraße 28", "70173", "Stuttgart"),
    ("Emma", "Schulz", "Prager Straße 2", "01067", "Dresden"),
    ("Noah", "Koch", "Grimmaische Straße 14", "04109", "Leipzig"),
    ("Hannah", "Richter", "Obernstraße 60", "28195", "Bremen"),
    ("Ben", "Klein", "Georgstraße 19", "30159", "Hannover"),
    ("Sofia", "Wolf", "Karolinenstraße 8", "90402", "Nürnberg"),
    ("Luis", "Schröder", "Westenhellweg 55", "44135", "Dortmund"),
    ("Marie", "Neumann", "Kettwiger Straße 30", "45127", "Essen"),
    ("Elias", "Schwarz", "Königsallee 60", "40213", "Düsseldorf"),
    ("Clara", "Zimmermann", "Sternstraße 21", "53111", "Bonn"),
    ("Leon", "Braun", "Hauptstraße 120", "69117", "Heidelberg"),
    ("Lina", "Krüger", "Kaiser-Joseph-Straße 190", "79098", "Freiburg im Breisgau"),
    ("Finn", "Hofmann", "Holstenstraße 44", "24103", "Kiel"),
    ("Ella", "Hartmann", "Kröpeliner Straße 33", "18055", "Rostock"),
    ("Theo", "Lange", "Anger 5", "99084", "Erfurt"),
    ("Ida", "Schmitt", "Breiter Weg 200", "39104", "Magdeburg"),
    ("Anton", "Werner", "Brandenburger Straße 12", "14467", "Potsdam"),
    ("Frieda", "Krause", "Bahnhofstraße 9", "66111", "Saarbrücken"),
    ("Karl", "Meier", "Ludwigsstraße 4", "55116", "Mainz"),
    ("Greta", "Lehmann", "Wilhelmstraße 50", "65183", "Wiesbaden"),
    ("Oskar", "Schmid", "Maximilianstraße 11", "86150", "Augsburg"),
    ("Mathilda", "Schulze", "Neupfarrplatz 6", "93047", "Regensburg"),
    ("Emil", "Maier", "Domstraße 13", "97070", "Würzburg"),
    ("Luise", "Köhler", "Unter den Linden 77", "10117", "Berlin"),
    ("Henry", "Herrmann", "Reeperbahn 1", "22767", "Hamburg"),
]

_PRODUCTS = [
    ["sofa"],
    ["kitchen"],
    ["sofa", "care plan"],
    ["bed", "wardrobe"],
    ["kitchen", "appliance service"],
    [],
]


def _customer(index: int) -> dict[str, Any]:
    first, last, street, postal_code, city = _PEOPLE[index]
    number = index + 1
    segment = "A" if number % 7 == 0 else "B" if number % 3 == 0 else "C"
    return {
        "id": f"C{number:06d}",
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}",
        "street": street,
        "postal_code": postal_code,
        "city": city,
        "phone": f"+49 {30 + number} {4000000 + number * 1379}",
        "email": f"{first.lower()}.{last.lower().replace('ü', 'ue').replace('ö', 'oe')}@example.com",
        "segment": segment,
        "annual_revenue": 800 + (number * 733) % 9000,
        "payment_behaviour": "pays late" if number % 5 == 0 else "on time",
        "customer_since": 2026 - (number % 15) - 1,
        "products": list(_PRODUCTS[number % len(_PRODUCTS)]),
        "order_number": f"O-{100000 + number}",
        "account": f"A-{700000 + number * 17}",
        "history": [
            {
                "date": f"2026-{(number % 9) + 1:02d}-{(number % 27) + 1:02d}",
                "channel": "phone",
                "note": "Asked about the delivery date",
            },
            {
                "date": f"2026-{(number % 9) + 2:02d}-{(number % 25) + 2:02d}",
                "channel": "e-mail",
                "note": "Invoice copy sent",
            },
        ],
    }


CUSTOMERS: list[dict[str, Any]] = [_customer(i) for i in range(len(_PEOPLE))]


def customers() -> dict[str, dict[str, Any]]:
    """A fresh, deep copy of the seed customers by id (each app changes its own copy)."""
    return {c["id"]: copy.deepcopy(c) for c in CUSTOMERS}


def by_order(order_number: str) -> dict[str, Any] | None:
    """The seed customer with this order number."""
    return next((c for c in CUSTOMERS if c["order_number"] == order_number), None)


VAULT_ENTRIES = {
    "crm": "crm_robot",
    "billing": "billing_robot",
    "nordlog": "nordlog_robot",
    "suedexpress": "suedexpress_robot",
    "terminal": "terminal_robot",
}


def robot_secrets() -> dict[str, str]:
    """The robots' demo logins as the environment variables the default vault reads."""
    secrets: dict[str, str] = {}
    for app, entry in VAULT_ENTRIES.items():
        user, password = next((u, p) for u, p in LOGINS[app].items() if "anna" not in u)
        prefix = f"TANDEM_SECRET_{entry.upper()}"
        secrets[f"{prefix}_USERNAME"] = user
        secrets[f"{prefix}_PASSWORD"] = password
    return secrets
