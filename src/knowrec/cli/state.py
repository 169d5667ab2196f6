"""``knowrec state …``: check, back up, restore or reset the live state of a served run (items and interactions
added while serving, in ``RUN/live.sqlite`` unless ``--state`` moved it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from knowrec.cli._common import console, friendly_errors, table

app = typer.Typer(help="Check, back up, restore or reset a served run's live state.", no_args_is_help=True)
Run = Annotated[Path, typer.Argument(help="The run folder that `knowrec serve` serves.")]
State = Annotated[Path | None, typer.Option(help="The state file, if `knowrec serve --state` moved it.")]


@app.command("info")
@friendly_errors
def info(run: Run, state: State = None) -> None:
    """Check the state file (integrity, and against how far it had got) and show what it holds."""
    from knowrec.serve.live import LiveState, run_state

    path, marks = run_state(run, state)
    live = LiveState(path, marks=marks)
    mark = live.mark()
    console.print(table(f"Live state of {run}", ["field", "value"], [
        ("file", str(path)), ("state id", mark.state_id), ("writes", mark.seq),
        *live.counts().items(), ("check", "ok")]))


@app.command("backup")
@friendly_errors
def backup_cmd(run: Run, to: Annotated[Path, typer.Option("--to", help="Where to write the copy.")],
               state: State = None) -> None:
    """Copy the state file consistently while the service may go on writing (SQLite's online backup)."""
    from knowrec.serve.live import backup, run_state

    path, _ = run_state(run, state)
    mark = backup(path, to)
    console.print(f"backed up {path} ({mark.seq:,} writes) to {to}")


@app.command("restore")
@friendly_errors
def restore_cmd(run: Run, backup: Annotated[Path, typer.Option("--from", help="A file `knowrec state backup` wrote.")],
                state: State = None) -> None:
    """Put a backup in place of the state file (stop the service first); writes after the backup are given up."""
    from knowrec.serve.live import restore, run_state

    path, marks = run_state(run, state)
    mark = restore(path, backup, marks)
    console.print(f"restored {path} from {backup}: {mark.seq:,} writes; start `knowrec serve {run}` again")


@app.command("reset")
@friendly_errors
def reset_cmd(run: Run, state: State = None,
              yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False) -> None:
    """Start afresh: move the state file aside (it is kept, renamed) and forget how far it had got."""
    from knowrec.serve.live import reset, run_state

    path, marks = run_state(run, state)
    if not yes and not typer.confirm(f"Serve {run} without the items and interactions in {path}?"):
        raise typer.Exit(1)
    aside = reset(path, marks)
    console.print(f"moved {path} to {aside}" if aside else f"no state file at {path}; its mark is cleared")
