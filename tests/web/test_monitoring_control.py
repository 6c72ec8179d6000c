"""The blood-pressure control page: a centre's doctor sees the quarter's rates by district
as a chart and a table, and downloads the table as CSV; a patient is turned away."""

from __future__ import annotations

import re
import uuid

from starlette.applications import Starlette

from mor.auth.accounts import Accounts
from mor.auth.roles import Role
from tests.auth.people import PASSWORD
from tests.conftest import empty_database
from tests.monitoring.followed import at, followed
from tests.video.conftest import Centre, centre_with_staff
from tests.web.browser import browser, sign_in, sign_in_staff


async def three_patients(app: Starlette) -> Centre:
    """Bang Rak: one at target, one above; Sathon: one without a reading in 2026-Q3."""
    await empty_database(app)
    store = app.state.store
    centre = await centre_with_staff(store)
    await followed(store, centre, "Bang Rak", [(at(8, 1), 150, 95), (at(9, 1), 128, 82)])
    await followed(store, centre, "Bang Rak", [(at(9, 2), 150, 92)])
    await followed(store, centre, "Sathon", [(at(6, 2), 120, 70)])
    return centre


async def test_a_doctor_sees_the_quarters_rates_by_district(app: Starlette) -> None:
    centre = await three_patients(app)
    async with browser(app) as http:
        answer = await sign_in_staff(http, centre.made.doctor_username, PASSWORD,
                                     "/staff/monitoring/control?quarter=2026-Q3")
        page = (await http.get(answer.headers["location"])).text
    assert "Q3 2026 (Jul\u2013Sep)" in page
    assert '<option value="2026-Q3" selected>' in page
    assert "Followed: <strong>3</strong>" in page
    assert "Control rate: <strong>33%</strong>" in page
    assert "<svg" in page and "At target" in page and "Above target" in page
    assert re.search(r'<th scope="row">Bang Rak</th><td>2</td><td>1 \(50%\)</td>'
                     r'<td>1 \(50%\)</td><td>0 \(0%\)</td>', page)
    assert re.search(r'<th scope="row">Sathon</th><td>1</td><td>0 \(0%\)</td>'
                     r'<td>0 \(0%\)</td><td>1 \(100%\)</td>', page)
    assert "Malee" not in page  # counts, never names
    assert "/staff/monitoring/control.csv?quarter=2026-Q3&amp;centre=" in page


async def test_the_table_downloads_as_csv_excel_reads(app: Starlette) -> None:
    centre = await three_patients(app)
    async with browser(app) as http:
        answer = await sign_in_staff(http, centre.made.doctor_username, PASSWORD,
                                     "/staff/today")
        await http.get(answer.headers["location"])
        got = await http.get("/staff/monitoring/control.csv",
                             params={"quarter": "2026-Q3", "centre": centre.id})
    assert got.status_code == 200
    assert got.headers["content-type"] == "text/csv; charset=utf-8"
    assert got.headers["content-disposition"] == (
        f'attachment; filename="bp-control-{centre.id}-2026-Q3.csv"; '
        "filename*=UTF-8''Bang%20Rak%20Health%20Centre%202026-Q3.csv")
    assert got.content.decode("utf-8") == (
        "\ufeffDistrict,Followed,At target,At target (%),Above target,Above target (%),"
        "No reading this quarter,No reading this quarter (%)\r\n"
        "Bang Rak,2,1,50.0,1,50.0,0,0.0\r\n"
        "Sathon,1,0,0.0,0,0.0,1,100.0\r\n"
        "All districts,3,1,33.3,1,33.3,1,33.3\r\n")


async def test_the_thai_page_counts_years_in_the_buddhist_era(app: Starlette) -> None:
    centre = await three_patients(app)
    async with browser(app, "th") as http:
        answer = await sign_in_staff(http, centre.made.doctor_username, PASSWORD,
                                     "/staff/monitoring/control?quarter=2026-Q3")
        page = (await http.get(answer.headers["location"])).text
    assert "2569" in page and "\u0e01.\u0e04." in page  # ก.ค., July


async def test_the_city_administrator_sees_every_centre_together(app: Starlette) -> None:
    centre = await three_patients(app)
    other = await centre_with_staff(app.state.store)
    await followed(app.state.store, other, "Sathon", [(at(9, 3), 120, 70)])
    username = f"city-{uuid.uuid4().hex[:6]}"
    await Accounts(app.state.store.engine).add(username, PASSWORD, Role.CITY_ADMIN)
    async with browser(app) as http:
        answer = await sign_in_staff(http, username, PASSWORD,
                                     "/staff/monitoring/control?quarter=2026-Q3")
        page = (await http.get(answer.headers["location"])).text
        assert '<option value="" selected>All health centres</option>' in page
        assert "Followed: <strong>4</strong>" in page
        one = (await http.get("/staff/monitoring/control",
                              params={"quarter": "2026-Q3", "centre": centre.id})).text
        assert "Followed: <strong>3</strong>" in one


async def test_a_patient_is_turned_away(app: Starlette) -> None:
    await empty_database(app)
    patient = f"patient-{uuid.uuid4().hex[:6]}"
    await Accounts(app.state.store.engine).add(patient, PASSWORD, Role.PATIENT)
    async with browser(app) as http:
        await sign_in(http, patient, PASSWORD)
        assert (await http.get("/staff/monitoring/control")).status_code == 403
        assert (await http.get("/staff/monitoring/control.csv")).status_code == 403
