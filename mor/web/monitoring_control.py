"""The staff page of blood-pressure control rates: of the hypertensive patients a health
centre follows from home, the share at target in a quarter, by district, as a chart and a
table, and the same table as a CSV file to download. For the centre's doctors, nurses
and administrators, and for the city's administrators (any centre, or all of them)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_percent
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.services.monitoring.control_rates import (
    ControlRates,
    ControlRatesRefused,
    Counts,
    Quarter,
    control_rates,
)
from mor.services.scheduling.centres import Centre, CentreNotFound, all_centres, get_centre
from mor.web.charts import Series, stacked_columns
from mor.web.dates import era_of, year
from mor.web.i18n import N_, language_of
from mor.web.page_access import person_for
from mor.web.rendering import formatted, gettext, render
from mor.web.signin import SignIn

PATH: Final = "/staff/monitoring/control"
CSV_PATH: Final = "/staff/monitoring/control.csv"
# The quarter picker: this quarter and the ones before it, two years back.
QUARTERS_SHOWN: Final = 8
_ROLES: Final = frozenset({Role.DOCTOR, Role.NURSE, Role.CENTRE_ADMIN, Role.CITY_ADMIN})
_DASH: Final = "\u2013"  # between months; a share of no one
_COLUMNS: Final = (("at_target", N_("At target")), ("above_target", N_("Above target")),
                   ("no_reading", N_("No reading this quarter")))


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: a district's, or the total's."""

    label: str
    counts: Counts


class ControlRatePages:
    def __init__(self, store: Store, sign_in: SignIn, zone: ZoneInfo, language: str
                 ) -> None:
        self.store = store
        self.sign_in = sign_in
        self.zone = zone
        self.city_language = language

    async def page(self, request: Request) -> Response:
        found = await self._rates(request)
        if isinstance(found, Response):
            return found
        staff, csrf, centres, rates = found
        language = language_of(request)
        era = era_of(request, language)
        rows = self._rows(request, rates)
        series = [Series(gettext(request, name), [getattr(r.counts, key) for r in rows[:-1]])
                  for key, name in _COLUMNS]
        districts = [r.label for r in rows[:-1]]
        chart = stacked_columns(
            gettext(request, "Patients with high blood pressure by district"), districts,
            series, width=max(480, 90 * len(districts)))
        this = self._this_quarter()
        quarters = [this]
        while len(quarters) < QUARTERS_SHOWN:
            quarters.append(quarters[-1].previous())
        if rates.quarter not in quarters:  # asked for by its address, further back
            quarters.append(rates.quarter)
        query = {"quarter": str(rates.quarter)} | (
            {"centre": rates.centre_id} if rates.centre_id else {})
        return render(
            request, "monitoring_control.html", signed_in=True, csrf_token=csrf,
            centres=centres, centre_id=rates.centre_id or "",
            every_centre=staff.account is not None
            and staff.account.role is Role.CITY_ADMIN,
            centre_name=self._centre_name(request, centres, rates.centre_id),
            quarter=str(rates.quarter),
            quarter_label=quarter_label(request, rates.quarter, language, era),
            quarters=[(str(q), quarter_label(request, q, language, era)) for q in quarters],
            rows=rows, columns=[(key, gettext(request, name)) for key, name in _COLUMNS],
            percent=lambda share: _percent(share, language),
            # The chart's every text was escaped as it was drawn.
            chart=Markup(chart) if districts else None,
            csv_url=f"{CSV_PATH}?{urlencode(query)}")

    async def csv(self, request: Request) -> Response:
        """The page's table as a spreadsheet: a header row, a row per district and the
        total; UTF-8 with a byte-order mark, by which Excel reads Thai and Lao."""
        found = await self._rates(request)
        if isinstance(found, Response):
            return found
        _, _, centres, rates = found
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([gettext(request, "District"), gettext(request, "Followed"),
                         *(heading for _, name in _COLUMNS for heading in (
                             gettext(request, name),
                             formatted(gettext(request, "{column} (%)"),
                                       {"column": gettext(request, name)})))])
        for row in self._rows(request, rates):
            counts = row.counts
            writer.writerow([row.label, counts.followed, *(
                value for key, _ in _COLUMNS for value in (
                    getattr(counts, key), _plain_percent(counts.share(getattr(counts, key)))))])
        centre = self._centre_name(request, centres, rates.centre_id)
        name = f"{centre} {rates.quarter}.csv"
        ascii_name = f"bp-control-{rates.centre_id or 'all-centres'}-{rates.quarter}.csv"
        return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{ascii_name}";'
                                 f" filename*=UTF-8''{quote(name, safe='')}",
                                 "Cache-Control": "no-store"})

    async def _rates(self, request: Request
                     ) -> tuple[Principal, str, list[Centre], ControlRates] | Response:
        found = await person_for(
            request, self.store, self.sign_in, _ROLES,
            heading=N_("This page is for health-centre staff"),
            text=N_("Doctors, nurses and administrators see their health centre's blood "
                    "pressure control rates here."))
        if isinstance(found, Response):
            return found
        staff, csrf = found
        centres = await self._centres(staff)
        centre_id = self._centre_id(request, staff, centres)
        if centre_id is None and not _is_city_admin(staff):
            return render(request, "message.html", 403, signed_in=True, csrf_token=csrf,
                          heading=gettext(request, "You work at no health centre yet"),
                          text=gettext(request, "Ask your health centre's administrator "
                                                "to add you to its staff."))
        try:
            rates = await control_rates(
                self.store, staff, centre_id, self._quarter(request), zone=self.zone,
                language=language_of(request), city_language=self.city_language)
        except ControlRatesRefused as refused:
            return render(request, "message.html", 403, signed_in=True, csrf_token=csrf,
                          heading=gettext(request, "This page is for health-centre staff"),
                          text=gettext(request, refused.message))
        return staff, csrf, centres, rates

    async def _centres(self, staff: Principal) -> list[Centre]:
        """The centres the person may choose: the city's every one for its
        administrator, else those they work at."""
        if _is_city_admin(staff):
            return await all_centres(self.store)
        centres = []
        for centre_id in staff.account.organizations if staff.account else ():
            try:
                centres.append(await get_centre(self.store, centre_id))
            except CentreNotFound:
                continue  # an organization that is no health centre
        return centres

    def _centre_id(self, request: Request, staff: Principal, centres: list[Centre]
                   ) -> str | None:
        """The centre asked for, if the person may choose it; else their first; None:
        every centre (for the city's administrator)."""
        asked = request.query_params.get("centre", "")
        if any(c.id == asked for c in centres):
            return asked
        if _is_city_admin(staff):
            return None
        return centres[0].id if centres else None

    def _quarter(self, request: Request) -> Quarter:
        this = self._this_quarter()
        try:
            asked = Quarter.parse(request.query_params.get("quarter", ""))
        except ValueError:
            return this
        return min(asked, this)  # a quarter still to come has no readings yet

    def _this_quarter(self) -> Quarter:
        return Quarter.of(datetime.now(self.zone).date())

    def _rows(self, request: Request, rates: ControlRates) -> list[Row]:
        unknown = gettext(request, "District unknown")
        return [*(Row(d.district or unknown, d.counts) for d in rates.districts),
                Row(gettext(request, "All districts"), rates.total)]

    def _centre_name(self, request: Request, centres: list[Centre], centre_id: str | None
                     ) -> str:
        if centre_id is None:
            return gettext(request, "All health centres")
        language = language_of(request)
        return next((c.name(language) for c in centres if c.id == centre_id), centre_id)


def quarter_label(request: Request, quarter: Quarter, language: str, era: str) -> str:
    """"Q4 2026 (Oct to Dec)" with an en dash, the year in the page's era, the months in
    its language."""
    months = (f"{format_date(quarter.first_day, 'LLL', locale=language)}{_DASH}"
              f"{format_date(quarter.last_month, 'LLL', locale=language)}")
    return formatted(gettext(request, "Q{number} {year} ({months})"), {
        "number": str(quarter.number), "year": str(year(quarter.first_day, era)),
        "months": months})


def _is_city_admin(staff: Principal) -> bool:
    return staff.account is not None and staff.account.role is Role.CITY_ADMIN


def _percent(share: float | None, language: str) -> str:
    return _DASH if share is None else format_percent(share, locale=language)


def _plain_percent(share: float | None) -> str:
    """A spreadsheet's number: 42.9, whatever the page's language."""
    return "" if share is None else f"{share * 100:.1f}"
