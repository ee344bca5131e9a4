"""HTTP: a downstream system (role export_service) lists its runs and downloads their files.

A key sees only the runs of profiles whose ``recipient`` is the key's name; anything else is
404, so a recipient cannot even learn that another recipient's run exists. Files stream from
disk in chunks; every listing and download is audited.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify
from sqlalchemy import select

from cdp.access.guard import current_access, protected
from cdp.access.models import ApiKey
from cdp.audit.log import record
from cdp.errors import NotFound
from cdp.exports.models import ExportRun
from cdp.http import current_platform, db_session
from cdp.http.openapi import api_doc

bp = Blueprint("exports", __name__)
CHUNK = 64 * 1024
MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson",
         "parquet": "application/vnd.apache.parquet", "json": "application/json"}


def _recipient() -> str:
    key = db_session().get(ApiKey, current_access().principal.key_id)
    if key is None:  # revoked and deleted between authentication and here
        raise NotFound("no such export run")
    return key.name


def _run_json(run: ExportRun) -> dict[str, Any]:
    return {
        "run_id": run.id, "profile": run.profile, "mode": run.mode, "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "since": run.since.isoformat() if run.since else None,
        "rows": run.rows, "suppressed": run.suppressed, "k_reached": run.k_reached,
        "files": [{k: f[k] for k in ("name", "format", "rows", "bytes", "sha256")} for f in run.files],
    }


def _own_run(run_id: str) -> ExportRun:
    run = db_session().get(ExportRun, run_id) if len(run_id) <= 32 else None
    if run is None or run.status != "succeeded" or run.recipient != _recipient():
        raise NotFound("no such export run")
    return run


@bp.get("/exports/runs")
@api_doc(tags=["exports"])
@protected("exports", "read")
def list_runs() -> Any:
    session = db_session()
    recipient = _recipient()
    runs = list(session.scalars(
        select(ExportRun).where(ExportRun.recipient == recipient, ExportRun.status == "succeeded")
        .order_by(ExportRun.started_at.desc()).limit(200)))
    record(session, current_access().audit(action="export.list",
                                           detail={"recipient": recipient, "runs": len(runs)}))
    return jsonify({"runs": [_run_json(r) for r in runs]})


@bp.get("/exports/runs/<run_id>")
@api_doc(tags=["exports"])
@protected("exports", "read")
def get_run(run_id: str) -> Any:
    return jsonify(_run_json(_own_run(run_id)))


@bp.get("/exports/signing-key")
@api_doc(tags=["exports"])
@protected("exports", "read")
def signing_key() -> Any:
    """The Ed25519 public key that verifies every manifest."""
    ring = current_platform().keyring
    return jsonify({"algorithm": "Ed25519",
                    "public_key": base64.b64encode(ring.verify_key_bytes()).decode()})


def _stream(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


@bp.get("/exports/runs/<run_id>/files/<name>")
@api_doc(tags=["exports"], content_types=tuple(MEDIA.values()) + ("application/octet-stream",))
@protected("exports", "read")
def download(run_id: str, name: str) -> Any:
    run = _own_run(run_id)
    entry = next((f for f in run.files if f["name"] == name), None)
    if entry is None or run.directory is None:
        raise NotFound("no such file in this run")
    path = Path(run.directory) / entry["name"]
    if not path.is_file():
        raise NotFound("the file is no longer available (retention)")
    record(db_session(), current_access().audit(
        action="export.download",
        detail={"profile": run.profile, "run_id": run.id, "file": name, "bytes": entry["bytes"]}))
    resp = Response(_stream(path), content_type=MEDIA.get(entry["format"], "application/octet-stream"))
    resp.headers["Content-Length"] = str(path.stat().st_size)
    resp.headers["Content-Disposition"] = f'attachment; filename="{entry["name"]}"'
    resp.headers["X-Content-SHA256"] = entry["sha256"]
    return resp
