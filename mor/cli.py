"""The ``mor`` command."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mor.cli_access import client_app, user_app
from mor.cli_demo import demo
from mor.cli_support import console, settings_or_exit
from mor.config import Settings

app = typer.Typer(
    help="mor: telemedicine and health records for cities, on a FHIR R4 server.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(user_app, name="user")
app.add_typer(client_app, name="client")
app.command("demo")(demo)


@app.command()
def serve(
    host: Annotated[str, typer.Option(
        help="Address to listen on; on a network, put a TLS proxy in front.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (PostgreSQL only).")] = 1,
    migrate: Annotated[bool, typer.Option(help="Bring the schema up to date first.")] = True,
) -> None:
    """Start the FHIR server (FHIR base at /fhir)."""
    import uvicorn

    settings = settings_or_exit()
    if migrate:
        _upgrade(settings)
    if workers > 1 and settings.is_sqlite:
        console.print("[yellow]SQLite allows one writer; starting one worker.[/yellow]")
        workers = 1
    console.print(f"mor {_version()} on {_describe_database(settings)}")
    console.print(f"FHIR R4 API: [bold]http://{host}:{port}/fhir[/bold]")
    console.print("Every request but /fhir/metadata needs an access token: see "
                  "'mor client add --help' and docs/access.md.")
    uvicorn.run("mor.api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level="warning", access_log=False)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the schema, or bring it up to date (Alembic migrations)."""
    settings = settings_or_exit()
    _upgrade(settings)
    console.print(f"Database schema is up to date ({_describe_database(settings)}).")


@db_app.command("reindex")
def db_reindex() -> None:
    """Rebuild the search index of every resource (after an upgrade that indexes more)."""
    from mor.services.reindexing import reindex_all

    settings = settings_or_exit()
    _upgrade(settings)
    count = asyncio.run(reindex_all(settings, console=console))
    console.print(f"Reindexed {count} resources.")


@app.command("import")
def import_files(
    paths: Annotated[list[Path], typer.Argument(help="FHIR JSON files: resources, Bundles or "
                                                     "NDJSON (one resource per line).")],
    restart: Annotated[bool, typer.Option(
        help="Start files from the beginning even if an earlier import of them was "
             "interrupted (by default it resumes where it stopped).")] = False,
    workers: Annotated[int | None, typer.Option(
        min=0, help="Processes that check and index resources while this one writes "
                    "(default: one per processor for inputs over 20 MB; 0: none).")] = None,
) -> None:
    """Load FHIR resources from files, with a progress bar and a summary."""
    from mor.services.importing import Checkpoints, import_paths

    settings = settings_or_exit()
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        console.print(f"[red]No such file:[/red] {', '.join(missing)}")
        raise typer.Exit(2)
    _upgrade(settings)
    checkpoints = Checkpoints(settings.export_dir.parent / "import-checkpoints",
                              settings.database_url)
    if restart:
        for path in paths:
            checkpoints.done(path)
    report = asyncio.run(import_paths(settings, paths, console=console,
                                      checkpoints=checkpoints, workers=workers))
    for name, where in report.resumed.items():
        console.print(f"Resumed {name} at {where}, where an earlier import stopped.")
    table = Table(title="Imported")
    table.add_column("resource type")
    table.add_column("loaded", justify="right")
    for resource_type, count in sorted(report.loaded.items()):
        table.add_row(resource_type, str(count))
    console.print(table)
    console.print(f"Loaded {report.total_loaded}, rejected {len(report.rejected)}.")
    for rejection in report.rejected[:50]:
        console.print(f"[red]rejected[/red] {rejection.where}: {rejection.reason}")
    if len(report.rejected) > 50:
        console.print(f"... and {len(report.rejected) - 50} more rejections")
    if report.rejected:
        raise typer.Exit(1)


def _upgrade(settings: Settings) -> None:
    from mor.db.migrate import upgrade

    upgrade(settings.database_url)


def _describe_database(settings: Settings) -> str:
    if settings.is_sqlite:
        return f"SQLite ({settings.sqlite_path() or 'in memory'})"
    from sqlalchemy.engine import make_url

    return f"PostgreSQL ({make_url(settings.database_url).render_as_string(hide_password=True)})"


def _version() -> str:
    import mor

    return mor.__version__
