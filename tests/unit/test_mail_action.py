"""mail.send against a real local SMTP server (aiosmtpd): templates, HTML, attachments, failures."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.mail_sink import MailSink
from connectors.smtp import SmtpMailer
from demo.server import free_port
from robots.actions.mail import render_mail
from robots.engine.human_gateway import InMemoryHumans
from robots.engine.records import RunRecord
from robots.engine.runner import Engine
from robots.language.project import Project
from tests.conftest import steps_workflow, write


@pytest.fixture
def sink() -> Iterator[MailSink]:
    with MailSink() as server:
        yield server


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TANDEM_HOME", str(tmp_path))
    write(
        tmp_path / "templates" / "mail" / "booked.txt",
        """
        Subject: Delivery on {{ date }}
        Dear {{ name }},

        your delivery comes on {{ date }}.
        """,
    )
    write(tmp_path / "templates" / "mail" / "booked.html", "<p>Dear {{ name }}, on <b>{{ date }}</b>.</p>\n")
    (tmp_path / "workflows").mkdir()
    return tmp_path


def run(home: Path, steps: str, mailer: Any, case_id: str = "case-7") -> RunRecord:
    engine = Engine(
        Project(home),
        humans=InMemoryHumans(),
        services={"mail": mailer},
        artifacts_dir=home / "artifacts",
    )
    return engine.run(steps_workflow(steps), {}, case_id=case_id)


def test_a_template_becomes_a_text_and_html_mail_with_an_attachment(home: Path, sink: MailSink) -> None:
    (home / "slip.pdf").write_bytes(b"%PDF-1.4 demo")
    record = run(
        home,
        f"""
        - mail.send:
            to: lea.weber@example.com
            template: booked
            data: {{name: "Lea <Weber>", date: "2026-12-03"}}
            attachments: ["{home / "slip.pdf"}"]
          as: sent
        - output: {{message_id: "{{{{ sent.message_id }}}}"}}
        """,
        SmtpMailer("127.0.0.1", sink.port),
    )
    assert record.status == "done", record.error
    (mail,) = sink.wait_for(1)
    assert mail["To"] == "lea.weber@example.com" and mail["Subject"] == "Delivery on 2026-12-03"
    assert mail.get_body(("plain",)).get_content().splitlines() == [
        "Dear Lea <Weber>,",
        "",
        "your delivery comes on 2026-12-03.",
    ]
    assert "Dear Lea &lt;Weber&gt;, on <b>2026-12-03</b>" in mail.get_body(("html",)).get_content()
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_filename() == "slip.pdf" and attachment.get_content() == b"%PDF-1.4 demo"
    # the Message-ID comes from the case and the step: a re-run of the case sends a recognisable duplicate
    assert mail["Message-ID"] == record.outputs["message_id"]
    step = "- mail.send: {to: lea.weber@example.com, subject: x, body: y}"
    for case in ("case-8", "case-8", "case-9"):
        assert run(home, step, SmtpMailer(port=sink.port), case).status == "done"
    ids = [m["Message-ID"] for m in sink.wait_for(4)[1:]]
    assert ids[0] == ids[1] != ids[2]


def test_a_missing_value_a_missing_template_and_no_server_say_what_to_do(home: Path, sink: MailSink) -> None:
    missing_value = run(
        home,
        "- mail.send: {to: a@example.com, template: booked, data: {name: Lea}}",
        SmtpMailer(port=sink.port),
    )
    assert missing_value.status == "failed_business"
    assert "mail template booked.txt: 'date' is undefined; pass it in 'data'" in (missing_value.error or "")
    no_template = run(home, "- mail.send: {to: a@example.com, template: bookd}", SmtpMailer(port=sink.port))
    assert no_template.status == "failed_system"
    assert "no mail template 'bookd'" in (no_template.error or "") and "['booked']" in (
        no_template.error or ""
    )
    down = run(
        home, "- mail.send: {to: a@example.com, subject: Hi, body: Hello}", SmtpMailer(port=free_port())
    )
    assert down.status == "failed_system"
    assert "cannot reach the mail server at 127.0.0.1:" in (down.error or "")
    assert sink.messages == []


def test_parameters_are_checked_when_the_workflow_loads() -> None:
    from robots.language.loader import parse_workflow

    _, problems = parse_workflow(
        "name: t\nsteps:\n  - mail.send: {to: nobody, body: hi, template: x}\n", "t.yaml"
    )
    assert problems and "give a template or a body (one of them)" in problems[0].message


def test_a_customer_gets_the_mail_in_their_language(
    home: Path, sink: MailSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = Path(__file__).resolve().parents[2]  # Tandem's own templates/mail, in the project
    shutil.copytree(shipped / "templates" / "mail", home / "templates" / "mail", dirs_exist_ok=True)
    monkeypatch.setenv("TANDEM_HOME", str(home.parent))  # the project's templates count, not these
    step = """
    - mail.send:
        to: lea.weber@example.com
        template: address_changed
        language: "{language}"
        data: {{name: Lea Weber, street: Am Markt 1, postal_code: "28195", city: Bremen, systems: [CRM]}}
    """
    for language in ("de-DE", "", "fr"):
        assert run(home, step.format(language=language), SmtpMailer(port=sink.port)).status == "done"
    german, english, french = sink.wait_for(3)
    assert german["Subject"] == "Ihre neue Adresse ist gespeichert"
    assert german.get_body(("plain",)).get_content().startswith("Guten Tag Lea Weber,")
    # No language, or one without its own text: the default template.
    assert english["Subject"] == french["Subject"] == "Your new address is on file"


def test_a_template_reads_the_customers_status_link_when_the_case_has_one(home: Path, sink: MailSink) -> None:
    shipped = Path(__file__).resolve().parents[2] / "templates" / "mail"  # Tandem's own template
    for template in shipped.glob("appointment_summary*"):
        shutil.copy(template, home / "templates" / "mail" / template.name)
    flow = steps_workflow("""
    - call: summary
      with: {}
    """)
    write(
        home / "workflows" / "summary.yaml",
        """
        name: summary
        steps:
          - mail.send:
              to: lea.weber@example.com
              template: appointment_summary
              data: {name: Lea, order_number: O-100003, supplier_name: Sued Express, date: "2026-12-08",
                     window: "08:00-12:00", booking_number: SE-1, note: ""}
        """,
    )
    engine = Engine(Project(home), services={"mail": SmtpMailer(port=sink.port)}, artifacts_dir=home / "a")
    link = "https://service.example.com/webform/status/c-1/0123456789abcdef"
    linked = engine.run(flow, {}, case_id="c-1", case_values={"status_url": link})
    plain = engine.run(flow, {}, case_id="c-2")  # whoever ran it had no public address: no link
    assert linked.status == plain.status == "done", (linked.error, plain.error)
    with_link, without = sink.wait_for(2)
    assert (
        f"You can follow your request here at any time: {link}"
        in with_link.get_body(("plain",)).get_content()
    )
    assert "follow your request" not in without.get_body(("plain",)).get_content()


def test_the_engine_gives_every_workflow_of_the_run_the_case_values() -> None:
    engine = Engine(Project(Path("/nonexistent")))
    record = engine.run(
        steps_workflow('- output: {url: "{{ case.status_url }}", id: "{{ case.id }}"}'),
        {},
        case_id="c-9",
        case_values={"status_url": "https://x.example/s", "id": "not this"},
    )
    assert record.outputs == {"url": "https://x.example/s", "id": "c-9"}
    bare = engine.run(steps_workflow('- output: {url: "{{ case.status_url }}"}'), {}, case_id="c-10")
    assert bare.outputs == {"url": ""}


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize(
    "template, data",
    [
        ("request_rejected", {"reference": "R-1", "reason": "no such order"}),
        ("request_done_by_hand", {"reference": "R-1", "note": "booked by phone", "text": "Done."}),
        (
            "appointment_booked",
            {
                "name": "Lea",
                "order_number": "O-100003",
                "supplier_name": "Sued Express",
                "date": "2026-12-08",
                "window": "08:00-12:00",
                "booking_number": "SE-1",
            },
        ),
    ],
)
def test_every_shipped_customer_mail_links_the_status_page_when_there_is_one(
    template: str, data: dict[str, str], language: str
) -> None:
    shipped = Path(__file__).resolve().parents[2]
    link = "https://service.example.com/webform/status/c-1/0123456789abcdef"
    _, text, html = render_mail(template, data, language, case={"status_url": link}, root=shipped)
    assert link in text and (html is None or f'href="{link}"' in html)
    _, text, html = render_mail(template, data, language, root=shipped)  # no public address
    assert "webform/status" not in text and "\n\n\n" not in text
