"""What every ``mor`` subcommand shares: the console, and settings that are checked."""

from __future__ import annotations

import typer
from rich.console import Console

from mor.config import ConfigError, Settings

console = Console()


def settings_or_exit() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        console.print(f"[red]Configuration error:[/red] {error}")
        raise typer.Exit(2) from None
