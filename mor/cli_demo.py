"""``mor demo``: start mor with a generated demo city, ready to sign in to.

Each city is an instance of its own, as in real use, so Bangkok (port 8000) and
Vientiane (port 8001) run side by side: each has its own database, outbox, exports and
key file under ./mor-data/, and its own time zone, emergency number and language.

The store, the generator and the server are imported when the command runs, not when
``mor`` starts, which keeps every other ``mor`` command a second quicker.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from mor.cli_support import console, settings_or_exit
from mor.config import Settings
from mor.services.demo.cities import CITIES, City

if TYPE_CHECKING:
    from mor.services.demo.generate import DemoState, DemoSummary


def demo(
    city: Annotated[str, typer.Option(
        help=f"The demo city: {' or '.join(CITIES)}.")] = "bangkok",
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(
        help="Port to listen on (default: 8000 for Bangkok, 8001 for Vientiane).",
        show_default=False)] = None,
    database_url: Annotated[str | None, typer.Option(
        help="The demo's database (default: sqlite:///./mor-data/demo-<city>.db); a "
             "postgresql:// URL works too.", show_default=False)] = None,
    reset: Annotated[bool, typer.Option(
        "--reset", help="Delete the demo's data and generate it anew.")] = False,
) -> None:
    """Start mor with a ready demo city, generated at the first start.

    Centres, staff, patients, a year of appointments; prints the accounts to sign in with.
    """
    import uvicorn

    chosen = CITIES.get(city.strip().lower())
    if chosen is None:
        console.print(f"[red]There is no demo of {city!r}[/red]; choose "
                      f"{' or '.join(CITIES)}.")
        raise typer.Exit(2)
    data_dir = Path("mor-data") / f"demo-{chosen.slug}"
    os.environ.update(demo_environment(chosen, database_url or chosen.database_url, data_dir))
    settings = settings_or_exit()
    port = port or chosen.port
    _upgrade(settings)  # also before a reset, which first reads what the database holds
    if reset:
        _reset(settings, chosen)
        shutil.rmtree(data_dir, ignore_errors=True)
        _upgrade(settings)
    summary = asyncio.run(_prepare(settings, chosen))
    _print_welcome(chosen, summary, f"http://{host}:{port}")
    uvicorn.run("mor.api.app:create_app", factory=True, host=host, port=port,
                log_level="warning", access_log=False)


def demo_environment(city: City, database_url: str, data_dir: Path) -> dict[str, str]:
    """The settings (mor.config) of a demo city's instance. They replace any set in the
    environment, so a shell prepared for a real instance never points the demo at its
    database."""
    return {
        "MOR_DATABASE_URL": database_url,
        "MOR_TIME_ZONE": city.time_zone,
        "MOR_EMERGENCY_NUMBER": city.emergency_number,
        "MOR_LANGUAGE": city.language,
        "MOR_OUTBOX_DIR": str(data_dir / "outbox"),
        "MOR_EXPORT_DIR": str(data_dir / "exports"),
        "MOR_SECRET_KEY_FILE": str(data_dir / "secret.key"),
    }


def _upgrade(settings: Settings) -> None:
    # As ``mor serve`` does before it starts.
    from mor.db.migrate import upgrade

    upgrade(settings.database_url)


async def _prepare(settings: Settings, city: City) -> DemoSummary | None:
    """Generate the demo in an empty database; in one that holds it, only make the
    slots of the coming weeks that are missing. None when the data was there."""
    from mor.db.engine import create_engine
    from mor.fhir.store import Store
    from mor.services.demo.generate import DemoError, generate_demo, keep_slots_ahead

    engine = create_engine(settings)
    try:
        store = Store(engine)
        console.print(f"Preparing the {city.name('en')} demo (the first time: half a "
                      "minute at most) ...")
        try:
            summary = await generate_demo(store, city)
        except DemoError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from None
        if summary is None:
            await keep_slots_ahead(store, city)
        return summary
    finally:
        await engine.dispose()


def _reset(settings: Settings, city: City) -> None:
    """Delete the demo's database, never one that holds other data."""
    from mor.db.migrate import downgrade

    if asyncio.run(_state(settings)).other_data:
        console.print("[red]This database holds health centres or patients that are not a "
                      "demo's; --reset deletes only a demo's database.[/red]")
        raise typer.Exit(1)
    path = settings.sqlite_path()
    if path is not None:
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
    elif not settings.is_sqlite:
        # PostgreSQL: the migrations take every table away; the upgrade after makes them anew.
        downgrade(settings.database_url, "base")
    console.print(f"Deleted the {city.name('en')} demo's data.")


async def _state(settings: Settings) -> DemoState:
    from mor.db.engine import create_engine
    from mor.fhir.store import Store
    from mor.services.demo.generate import demo_state

    engine = create_engine(settings)
    try:
        return await demo_state(Store(engine))
    finally:
        await engine.dispose()


def _print_welcome(city: City, summary: DemoSummary | None, url: str) -> None:
    from mor.web.i18n import LANGUAGE_NAMES

    if summary is None:
        console.print(f"Using the {city.name('en')} demo generated earlier "
                      "(--reset to generate it anew).")
    else:
        console.print(
            f"Generated in {summary.seconds:.1f} s: {summary.centres} health centres, "
            f"{summary.staff_accounts} staff accounts, {summary.patients} patients "
            f"({summary.chronic_patients} with chronic conditions, "
            f"{summary.patient_accounts} with accounts), {summary.past_appointments} "
            f"appointments in the past year, {summary.upcoming_bookings} booked ahead, "
            f"{summary.free_slots} free slots in the coming four weeks, "
            f"{summary.followed_from_home} patients followed from home.")
    console.print(_accounts_table(city))
    console.print(
        "Staff sign in with the password, then enrol an authenticator app (TOTP) at "
        "their first sign-in: scan the QR code shown, and give its six-digit code then "
        "and at every sign-in after. Patients sign in with the password alone; the other "
        f"patients' accounts (patient.<given>.<family>) have the same password.\n"
        f"{city.name('en')}: time zone {city.time_zone}, emergency number "
        f"{city.emergency_number}, pages in {LANGUAGE_NAMES[city.language]} unless the "
        "browser asks for another language. The districts are real, the centres in them "
        "illustrative, the people invented.\n"
        f"Open [bold]{url}/[/bold] (book at {url}/book, sign in at {url}/auth/login, "
        f"FHIR API at {url}/fhir). Stop with Ctrl+C.")


def _accounts_table(city: City) -> Table:
    from mor.services.demo.generate import demo_accounts

    # Names and passwords are never wrapped or cut, whatever the terminal's width: they
    # are what a person copies.
    table = Table(title=f"Demo accounts of {city.name('en')}", box=box.SIMPLE_HEAD)
    table.add_column("username", no_wrap=True)
    table.add_column("role", no_wrap=True)
    table.add_column("password", no_wrap=True)
    table.add_column("note")
    for account in demo_accounts(city):
        table.add_row(account.username, account.role.value, account.password, account.note)
    return table
