"""What the import commands print: a progress bar on a terminal, then the summary."""

import sys

from tqdm import tqdm

from inventory.imports import words
from inventory.imports.files import FileProblem
from inventory.imports.stock import movement_text

STAGES = {"checking": "checking rows", "writing": "writing"}


class ProgressBar:
    """A `progress(stage, done, total)` callback drawing one bar, only on a terminal."""

    def __init__(self, stream=None):
        # tqdm draws on stderr and disables itself (disable=None) when it is not a terminal.
        self.bar = tqdm(
            total=0,
            unit=" rows",
            file=stream or sys.stderr,
            disable=None,
            leave=False,
            dynamic_ncols=True,
        )

    def __call__(self, stage, done, total):
        if self.bar.disable:
            return
        self.bar.set_description(STAGES.get(stage, stage), refresh=False)
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self):
        self.bar.close()


def read_bytes(path):
    """The bytes of the file at `path`, or a FileProblem that says why not."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise FileProblem(f"Cannot read {path}: {exc.strerror or exc}.") from exc


def summary_lines(result, file_name, dry_run, again=False):
    s = result.summary()
    if result.refused:  # nothing was changed: what the other rows would do is beside the point
        lines = [f"{file_name}: {words.rows(s['read'])} read, {refused_text(s)}"]
    else:
        lines = [
            f"{file_name}: {words.rows(s['read'])} read: {s['created']:,} created, "
            f"{s['updated']:,} updated, {s['unchanged']:,} unchanged"
        ]
    lines += [str(p) for p in result.problems]
    if result.problem_count > len(result.problems):
        lines.append(f"... and {result.problem_count - len(result.problems):,} more")
    lines += s["notes"]
    lines += _earlier_lines(result, dry_run, again)
    if result.movement is not None and not result.already_applied:
        lines.append(
            f"movement #{result.movement.pk} (source import, reference {file_name!r}); undo it "
            f"with: python manage.py reverse_movement {result.movement.pk}"
        )
    if dry_run and not result.refused:
        lines.append("dry run: nothing was applied")
    return lines


def refused_text(summary):
    """ "3 problems in 2 rows" (or "1 problem in the file"): why nothing was applied."""
    found = words.problems(summary.get("errors", 0))
    rows = summary.get("error_rows", 0)
    return f"{found} in {words.rows(rows)}" if rows else f"{found} in the file"


def _earlier_lines(result, dry_run, again):
    """What an earlier application of the same stock file means for this run."""
    if result.earlier is None:
        return []
    earlier = movement_text(result.earlier)
    if again and not dry_run:
        done = "applied again" if result.movement is not None else "applied again, changing nothing"
        return [f"{done}: this file was applied before as {earlier}"]
    if dry_run:
        then = (
            "--again applies it a second time"
            if again
            else "importing it applies nothing unless --again"
        )
        return [f"already applied as {earlier}: {then}"]
    return [
        f"already applied as {earlier}: nothing was applied; to apply it again anyway, run "
        "with --again"
    ]
