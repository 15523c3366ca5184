"""The inbox's search box over HTTP: a plain GET form (no JavaScript needed) that finds the
agent's own tasks by customer or order number, name and reference, keeps the other filters,
shows what was searched as text, and never lists another unit's task."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from orchestrator.control_room.app import ServerSettings, create_app
from orchestrator.service import Orchestrator
from robots.errors import HumanTaskRequest
from robots.language.project import Project
from tests.conftest import ROOT

SECRET = "inbox-search-secret-key-0123456789abcdef"
PASSWORDS = {"max.agent": "agent-demo-2", "anna.agent": "agent-demo-1"}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orchestrator]:
    orchestrator = Orchestrator(
        f"sqlite:///{tmp_path_factory.mktemp('inbox-search') / 's.db'}", project=Project(ROOT)
    )
    orchestrator.load_organisation()
    yield orchestrator
    orchestrator.close()


@pytest.fixture(scope="module")
def clients(store: Orchestrator) -> dict[str, TestClient]:
    app = create_app(ServerSettings(secret_key=SECRET), store=store)
    signed_in = {}
    for name, password in PASSWORDS.items():
        client = TestClient(app)
        assert client.post("/login", data={"username": name, "password": password}).status_code == 200
        signed_in[name] = client
    return signed_in


def new_task(
    store: Orchestrator, reference: str, customer: str, order: str, queue: str, name: str = ""
) -> str:
    case, _ = store.create_case(
        "appointment_failed",
        reference,
        {"customer_id": customer, "order_number": order, "postal_code": "80331"},
    )
    request = HumanTaskRequest(
        queue=queue, reason="Agree a delivery slot", data={"customer": {"name": name}}, step="agent"
    )
    return store.create_task(request, case_id=case.id, run_id="r", key=f"{case.id}:agent")


def task_ids(html: str) -> set[str]:
    return set(re.findall(r'data-task-id="([^"]+)"', html))


@pytest.fixture(scope="module")
def tasks(store: Orchestrator) -> dict[str, str]:
    return {
        "weber": new_task(store, "ivr:CALL-1001", "C000101", "O-200101", "appointments", "Lea Weber"),
        "ozturk": new_task(store, "ivr:CALL-1002", "C000102", "O-200102", "appointments", "Deniz Öztürk"),
        # Berlin's queue, the same customer as Munich's first task.
        "berlin": new_task(store, "ivr:CALL-1003", "C000101", "O-200103", "address_review", "Lea Weber"),
    }


def test_the_search_box_is_a_labelled_field_of_the_get_form(clients: dict[str, TestClient]) -> None:
    page = clients["max.agent"].get("/inbox").text
    form = re.search(r'<form class="filters" method="get" action="/inbox"[^>]*>(.*?)</form>', page, re.S)
    assert form is not None
    assert '<label for="f-q">Search</label>' in form.group(1)
    assert re.search(r'<input id="f-q" type="search" name="q" value=""', form.group(1))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C000101", {"weber"}),
        ("o-200102", {"ozturk"}),
        ("lea weber", {"weber"}),
        ("ÖZTÜRK", {"ozturk"}),  # case-insensitive beyond ASCII
        ("OZTURK", set()),  # "ü" is not "u": the text as it is written
        ("CALL-100", {"weber", "ozturk"}),
        ("appointments", {"weber", "ozturk"}),
        ("address_review", set()),
        ("O-200103", set()),
    ],
)
def test_the_search_finds_only_the_agents_own_tasks(
    clients: dict[str, TestClient], tasks: dict[str, str], text: str, expected: set[str]
) -> None:
    page = clients["max.agent"].get("/inbox", params={"q": text})
    assert page.status_code == 200
    assert task_ids(page.text) == {tasks[name] for name in expected}
    assert tasks["berlin"] not in page.text


def test_berlins_agent_finds_berlins_task_for_the_same_customer(
    clients: dict[str, TestClient], tasks: dict[str, str]
) -> None:
    page = clients["anna.agent"].get("/inbox", params={"q": "C000101"}).text
    assert task_ids(page) == {tasks["berlin"]}


def test_the_search_combines_with_the_state_and_offers_all_states_when_nothing_is_found(
    store: Orchestrator, clients: dict[str, TestClient], tasks: dict[str, str]
) -> None:
    done = new_task(store, "ivr:CALL-1009", "C000109", "O-200109", "appointments", "Jan Done")
    store.cancel_task(done, "admin", "the customer called it off")
    max_agent = clients["max.agent"]
    page = max_agent.get("/inbox", params={"q": "C000109", "sort": "priority"}).text
    assert task_ids(page) == set()
    assert "No task matches “C000109” here." in page
    link = re.search(r'<a href="(/inbox\?[^"]+)">Search all states</a>', page)
    assert link is not None
    query = parse_qs(urlsplit(link.group(1).replace("&amp;", "&")).query)
    assert query["q"] == ["C000109"] and query["state"] == ["all"] and query["sort"] == ["priority"]
    assert task_ids(max_agent.get(link.group(1).replace("&amp;", "&")).text) == {done}


def test_what_was_searched_is_shown_again_as_text_with_a_way_back(clients: dict[str, TestClient]) -> None:
    markup = '"><script>alert(1)</script>'
    page = clients["max.agent"].get("/inbox", params={"q": markup, "state": "all"}).text
    assert "<script>alert(1)" not in page
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    clear = re.search(r'<a href="([^"]+)">Clear the search</a>', page)
    assert clear is not None
    assert "q=" not in clear.group(1) and "state=all" in clear.group(1)
