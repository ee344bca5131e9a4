"""``cdp pii ...`` commands. ``cdp pii scan`` is described in docs/cli.md.

Input is read as bytes, line by line, with a cap on line length, so memory stays constant
and one bad line (invalid UTF-8, broken JSON, a missing ``text``, an oversized text) is
reported with its line number and skipped without stopping the run.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import IO, BinaryIO

import click

from cdp.errors import ValidationError
from cdp.pii.nlp_engine import prefetch_model_names
from cdp.pii.scan import MAX_TEXT_CHARS, scan_text

# A JSON line holding a maximal text (4 bytes per character at worst, plus escaping slack).
MAX_LINE_BYTES = MAX_TEXT_CHARS * 6 + 4096
_CHUNK = 1 << 16


def iter_lines(stream: BinaryIO, max_bytes: int = MAX_LINE_BYTES) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(line_number, raw_line)``; ``raw_line`` is None for a line over ``max_bytes``,
    whose remainder is read and discarded in chunks rather than held in memory."""
    lineno = 0
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        lineno += 1
        if len(line) > max_bytes and not line.endswith(b"\n"):
            while True:  # drain the rest of the oversized line
                rest = stream.readline(_CHUNK)
                if not rest or rest.endswith(b"\n"):
                    break
            yield lineno, None
            continue
        yield lineno, line


def _scan_parsed(parsed: dict | tuple[dict, str]) -> tuple[dict, str | None]:
    """The output record for one line parsed by :func:`_parse_line`, and the error text if
    the line was bad."""
    if isinstance(parsed, tuple):
        return parsed
    rid, text, language = parsed["id"], parsed["text"], parsed["language"]
    try:
        entities = scan_text(text, language)
    except ValidationError as exc:  # too large; the message carries only sizes
        return {"id": rid, "error": exc.message}, exc.message
    return {"id": rid, "entities": [e.to_dict() for e in entities]}, None


def _parse_line(raw: bytes | None) -> dict | tuple[dict, str]:
    """``{"id", "text", "language"}`` of a good line, or (output record, error) of a bad one."""
    if raw is None:
        return {"id": None, "error": "line too long"}, "line too long"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return {"id": None, "error": "invalid UTF-8"}, "invalid UTF-8"
    try:
        record = json.loads(line)
    except ValueError:
        return {"id": None, "error": "malformed JSON"}, "malformed JSON"
    if not isinstance(record, dict):
        return {"id": None, "error": "line is not a JSON object"}, "line is not a JSON object"
    rid = record.get("id")
    if rid is not None and not isinstance(rid, (str, int)):
        rid = None
    text = record.get("text")
    if not isinstance(text, str):
        return {"id": rid, "error": "missing or non-string text"}, "missing or non-string text"
    language = record.get("language")
    if language not in ("zh", "en"):
        language = None
    return {"id": rid, "text": text, "language": language}


# Lines read ahead and scanned together: the name model runs over a chunk's texts in
# batches of similar length, so a longer chunk pads less and repeats fewer clauses. Bounded
# in lines and in bytes (a chunk closes once it holds CHUNK_BYTES), so memory stays flat
# whatever the line lengths.
CHUNK_LINES = 256
CHUNK_BYTES = 4 << 20


def _chunks(items: Iterator[tuple[int, bytes | None]], size: int,
            max_bytes: int = CHUNK_BYTES) -> Iterator[list[tuple[int, bytes | None]]]:
    chunk: list[tuple[int, bytes | None]] = []
    held = 0
    for item in items:
        chunk.append(item)
        held += len(item[1] or b"")
        if len(chunk) >= size or held >= max_bytes:
            yield chunk
            chunk = []
            held = 0
    if chunk:
        yield chunk


@click.group(name="pii")
def pii() -> None:
    """Detect personal data in text."""


@pii.command("scan")
@click.option("--input", "input_path", required=True,
              type=click.Path(exists=True, dir_okay=False, allow_dash=True),
              help='JSON Lines {"id", "text", "language"?}; "-" for stdin.')
@click.option("--output", "output_path", required=True,
              type=click.Path(dir_okay=False, writable=True, allow_dash=True),
              help='JSON Lines {"id", "entities": [{"type", "start", "end", "score"}]}.')
def scan_command(input_path: str, output_path: str) -> None:
    """Scan every line of IN for personal data and write the entities found to OUT."""
    started = time.perf_counter()
    summary_err = output_path == "-"
    lines = ok = errors = found = 0
    with ExitStack() as files:
        # the files opened here are closed on the way out; stdin and stdout stay open
        src: BinaryIO = (sys.stdin.buffer if input_path == "-"
                         else files.enter_context(open(input_path, "rb")))
        dst: IO[str] = (click.open_file("-", "w") if output_path == "-"
                        else files.enter_context(open(output_path, "w", encoding="utf-8")))
        progress = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            progress = tqdm(unit="line", desc="pii scan", file=sys.stderr)
        try:
            for chunk in _chunks(iter_lines(src), CHUNK_LINES):
                parsed = [(lineno, _parse_line(raw)) for lineno, raw in chunk]
                # the model runs over a chunk's texts in batches (same results, less CPU)
                texts = [p["text"] for _, p in parsed
                         if isinstance(p, dict) and len(p["text"]) <= MAX_TEXT_CHARS]
                with prefetch_model_names(texts):
                    for lineno, line in parsed:
                        lines += 1
                        out, error = _scan_parsed(line)
                        if error:
                            errors += 1
                            out["line"] = lineno
                            click.echo(f"line {lineno}: {error}", err=True)
                        else:
                            ok += 1
                            found += len(out["entities"])
                        dst.write(json.dumps(out, ensure_ascii=False) + "\n")
                        if progress is not None:
                            progress.update(1)
        finally:
            if progress is not None:
                progress.close()
            if output_path == "-":
                dst.flush()
    elapsed = time.perf_counter() - started
    click.echo(
        f"pii scan: {lines} lines, {ok} scanned, {errors} errors, {found} entities "
        f"in {elapsed:.1f}s",
        err=summary_err,
    )


@pii.command("rescan")
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10_000),
              help="interactions per transaction (and per audit entry)")
@click.option("--limit", default=None, type=click.IntRange(1), help="stop after about N rows; "
              "the next run resumes")
@click.option("--restart", is_flag=True, help="start from the first interaction even if the "
              "last run did not finish")
@click.option("--progress/--no-progress", default=None, help="default: on a terminal")
@click.option("--actor", default="cli:pii-rescan", show_default=True)
def rescan_command(batch_size: int, limit: int | None, restart: bool, progress: bool | None,
                   actor: str) -> None:
    """Re-scan stored free text with the current engine and rewrite the redacted copies.

    Resumes an unfinished run unless --restart. Prints one summary line."""
    from sqlalchemy import func, select

    from cdp.commandline import get_platform
    from cdp.identity.models import Interaction
    from cdp.identity.rescan import RescanProgress, rescan_interactions

    platform = get_platform()
    show = sys.stderr.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        with platform.transaction() as session:
            total = session.scalar(select(func.count()).select_from(Interaction)) or 0
        bar = tqdm(total=total, unit="note", desc="pii rescan", file=sys.stderr)

    def on_batch(p: RescanProgress) -> None:
        if bar is not None:
            bar.n = p.read
            bar.set_postfix(rewritten=p.changed, refresh=False)
            bar.refresh()

    started = time.perf_counter()
    try:
        result = rescan_interactions(platform, batch_size=batch_size, actor=actor,
                                     restart=restart, limit=limit, on_batch=on_batch)
    finally:
        if bar is not None:
            bar.close()
    click.echo(
        f"pii rescan: run {result.run_id}{' (resumed)' if result.resumed else ''}: "
        f"{result.read} read, {result.changed} rewritten, {result.skipped} skipped "
        f"(key destroyed) in {time.perf_counter() - started:.1f}s"
    )


if __name__ == "__main__":  # python -m cdp.pii.commands scan --input ... --output ...
    pii()
