"""The Robot Framework + rpaframework variant: the same clicks with ``RPA.Browser.Selenium``.

Written the way an RPA developer would write it in Robot Framework: one Chrome (Debian's
``chromium-driver``) opened in the suite setup, logged into each app once, then a loop that
takes the next work item and runs its keywords — like a robocorp work-item loop. The loop
gets its cases from the benchmark through the ``CaseFeed`` library below, which also times
each case (from handing it out to hearing that it is done). The suite runs through the
``robot`` Python API from a generated ``.robot`` file in a temporary directory.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Case = dict[str, Any]

SUITE = r"""*** Settings ***
Library           RPA.Browser.Selenium    timeout=10s    implicit_wait=0s    run_on_failure=NONE
Library           bench.robots_rf.CaseFeed
Suite Setup       Open Apps
Suite Teardown    Close All Browsers

*** Variables ***
${CHROME_OPTIONS}    SEPARATOR=;
...    add_argument("--headless=new")    add_argument("--no-sandbox")
...    add_argument("--disable-gpu")    add_argument("--disable-dev-shm-usage")

*** Tasks ***
Work Through Cases
    WHILE    True    limit=NONE
        ${case}=    Next Case
        IF    $case is None    BREAK
        TRY
            IF    $case['kind'] == 'address'
                Change Address In CRM    ${case}
                Change Address In Billing    ${case}
            ELSE IF    $case['supplier'] == 'nordlog'
                Book At NordLogistik    ${case}
            ELSE
                Book At Sued Express    ${case}
            END
            Case Done
        EXCEPT    AS    ${error}
            Case Done    ${error}
        END
    END

*** Keywords ***
Open Apps
    Open Browser    about:blank    browser=headlesschrome    options=${CHROME_OPTIONS}
    ...    executable_path=${CHROMEDRIVER}
    Log In    ${CRM_URL}    ${CRM_USER}    ${CRM_PASSWORD}    Sign in
    Log In    ${BILLING_URL}    ${BILLING_USER}    ${BILLING_PASSWORD}    Log on
    Log In    ${NORDLOG_URL}    ${NORDLOG_USER}    ${NORDLOG_PASSWORD}    Login
    Log In    ${SUEDEXPRESS_URL}    ${SUEDEXPRESS_USER}    ${SUEDEXPRESS_PASSWORD}    Enter

Log In
    [Arguments]    ${url}    ${user}    ${password}    ${button}
    Go To    ${url}/login
    Input Text    name:user    ${user}
    Input Password    name:password    ${password}
    Click Button    ${button}
    Wait Until Page Contains Element    xpath://button[normalize-space()="Log out"]

Read Address
    [Arguments]    ${street_id}    ${zip_id}    ${city_id}
    ${street}=    Get Text    css:[data-testid="${street_id}"]
    ${zip}=    Get Text    css:[data-testid="${zip_id}"]
    ${city}=    Get Text    css:[data-testid="${city_id}"]
    RETURN    ${street}|${zip}|${city}

Address Should Be
    [Arguments]    ${case}    ${street_id}    ${zip_id}    ${city_id}
    Element Text Should Be    css:[data-testid="${street_id}"]    ${case}[street]
    Element Text Should Be    css:[data-testid="${zip_id}"]    ${case}[postal_code]
    Element Text Should Be    css:[data-testid="${city_id}"]    ${case}[city]

Change Address In CRM
    [Arguments]    ${case}
    Go To    ${CRM_URL}/customers/${case}[customer_id]
    ${seen}=    Read Address    street    postal-code    city
    IF    $seen != $case['wanted']
        Click Button    Edit address
        Wait Until Page Contains Element    css:iframe[title="Edit address"]
        Select Frame    css:iframe[title="Edit address"]
        Wait Until Element Is Visible    name:street
        Input Text    name:street    ${case}[street]
        Input Text    name:postal_code    ${case}[postal_code]
        Input Text    name:city    ${case}[city]
        Click Button    Save address
        Handle Alert    ACCEPT
        # Not "Wait Until Page Contains": the form's script holds that text too, so it would
        # pass before the save and the check below would read the old address.
        Wait Until Element Contains    css:p[role="status"]    Address saved    timeout=20s
        Unselect Frame
        Go To    ${CRM_URL}/customers/${case}[customer_id]
    END
    Address Should Be    ${case}    street    postal-code    city

Change Address In Billing
    [Arguments]    ${case}
    Go To    ${BILLING_URL}/accounts?customer=${case}[customer_id]
    ${seen}=    Read Address    billing-street    billing-zip    billing-town
    IF    $seen != $case['wanted']
        Click Button    Change billing address
        Input Text    name:street    ${case}[street]
        Input Text    name:zip    ${case}[postal_code]
        Input Text    name:town    ${case}[city]
        Click Button    Submit
        Wait Until Element Is Visible    xpath://dialog//button[normalize-space()="Confirm"]
        Click Button    Confirm
        Wait Until Page Contains    Billing address updated    timeout=20s
    END
    Address Should Be    ${case}    billing-street    billing-zip    billing-town

Book At NordLogistik
    [Arguments]    ${case}
    Go To    ${NORDLOG_URL}/slots?order=${case}[order_number]&postal_code=${case}[postal_code]
    ${free}=    Get Element Count    css:table[aria-label="Free delivery slots"] tbody tr
    IF    ${free} == 0    Fail    No free slot for ${case}[order_number]
    ${date}=    Get Text    css:table[aria-label="Free delivery slots"] tbody tr:first-child td:nth-child(1)
    ${window}=    Get Text    css:table[aria-label="Free delivery slots"] tbody tr:first-child td:nth-child(2)
    Click Button    xpath://button[@aria-label="Book ${date} ${window}"]
    Wait Until Page Contains    Booking confirmed    timeout=20s
    ${number}=    Get Text    css:[data-testid="booking-number"]
    Should Not Be Empty    ${number}

Book At Sued Express
    [Arguments]    ${case}
    Go To    ${SUEDEXPRESS_URL}/booking
    Input Text    name:order    ${case}[order_number]
    Input Text    name:zip    ${case}[postal_code]
    Click Button    Continue
    Wait Until Page Contains Element    name:slot
    ${windows}=    Get List Items    name:slot
    Should Not Be Empty    ${windows}
    Select From List By Index    name:slot    0
    Select Checkbox    name:confirmed
    Click Button    Book appointment
    Wait Until Page Contains    Appointment booked    timeout=20s
    ${number}=    Get Text    css:[data-testid="booking-number"]
    Should Not Be Empty    ${number}
"""

# The feed the running suite reads from; set by ``run_suite`` in the same process.
_next_batch: Callable[[], list[Case] | None] | None = None
_report: Callable[[list[dict[str, Any]]], None] | None = None


class CaseFeed:
    """Robot Framework library: hands out the benchmark's cases and times each one."""

    ROBOT_LIBRARY_SCOPE = "GLOBAL"

    def __init__(self) -> None:
        self._batch: list[Case] = []
        self._results: list[dict[str, Any]] = []
        self._current: Case | None = None
        self._started = 0.0

    def next_case(self) -> Case | None:
        """The next case to work on, or None when the benchmark has no more (ends the loop)."""
        if not self._batch:
            if self._results and _report is not None:
                _report(self._results)
                self._results = []
            batch = _next_batch() if _next_batch is not None else None
            if not batch:
                return None
            self._batch = list(batch)
        case = self._batch.pop(0)
        if case["kind"] == "address":
            case = {**case, "wanted": f"{case['street']}|{case['postal_code']}|{case['city']}"}
        self._current = case
        self._started = time.perf_counter()
        return case

    def case_done(self, error: object = None) -> None:
        """The current case ended (with ``error`` when it failed)."""
        elapsed = (time.perf_counter() - self._started) * 1000
        assert self._current is not None, "Case Done without Next Case"
        self._results.append(
            {"seq": self._current["seq"], "ms": elapsed, "error": str(error)[:500] if error else None}
        )
        self._current = None


def suite_variables() -> list[str]:
    """``name:value`` pairs for the suite: app URLs and the robot's logins from the environment."""
    names = {"CRM": "CRM_ROBOT", "BILLING": "BILLING_ROBOT", "NORDLOG": "NORDLOG_ROBOT"}
    names["SUEDEXPRESS"] = "SUEDEXPRESS_ROBOT"
    pairs = [f"CHROMEDRIVER:{os.environ.get('TANDEM_CHROMEDRIVER', '/usr/bin/chromedriver')}"]
    for system, entry in names.items():
        pairs.append(f"{system}_URL:{os.environ[f'{system}_URL']}")
        pairs.append(f"{system}_USER:{os.environ[f'TANDEM_SECRET_{entry}_USERNAME']}")
        pairs.append(f"{system}_PASSWORD:{os.environ[f'TANDEM_SECRET_{entry}_PASSWORD']}")
    return pairs


def run_suite(
    next_batch: Callable[[], list[Case] | None],
    report: Callable[[list[dict[str, Any]]], None],
    workdir: Path,
) -> int:
    """Run the generated suite until ``next_batch`` returns None; Robot Framework's return code.

    ``report`` gets each batch's results before the next batch is asked for.
    """
    import robot

    global _next_batch, _report
    _next_batch, _report = next_batch, report
    with tempfile.TemporaryDirectory(prefix="rf-bench-", dir=workdir) as directory:
        suite = Path(directory) / "address_and_delivery.robot"
        suite.write_text(SUITE, encoding="utf-8")
        with open(Path(directory) / "console.txt", "w", encoding="utf-8") as console:
            # TANDEM_BENCH_RF_LOG=<dir> keeps Robot Framework's output.xml and log.html, for
            # debugging the suite (off by default: the files grow with every case).
            keep = os.environ.get("TANDEM_BENCH_RF_LOG")
            code: int = robot.run(
                str(suite),
                variable=suite_variables(),
                output="output.xml" if keep else "NONE",
                log="log.html" if keep else "NONE",
                report="NONE",
                stdout=console,
                stderr=console,
                outputdir=keep or directory,
            )
        if code != 0:
            raise RuntimeError(
                f"the Robot Framework suite failed (rc {code}): "
                + (Path(directory) / "console.txt").read_text(encoding="utf-8")[-2000:]
            )
    return code
