"""No network, one analyzer per process, hostile input, and `cdp pii scan` end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cdp.pii.analyzer import get_analyzer
from cdp.pii.scan import MAX_TEXT_CHARS, TextTooLarge, scan_text

REPO = Path(__file__).resolve().parents[2]
CDP = str(Path(sys.executable).with_name("cdp"))

NO_NETWORK = r"""
import json, socket, sys
attempts = []
def refuse(*args, **kwargs):
    attempts.append(repr(args[1:2]))  # recorded even if a library swallows the error
    raise OSError("network disabled by the test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.socket.sendto = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from cdp.pii.scan import scan_text
text = ("黄成阳咨询，邮箱wang.fang@mail.pku.edu.cn，电话13812345678；login from 114.88.21.7 by "
        "john@corp-health.com.cn")
found = [[e.type, text[e.start:e.end]] for e in scan_text(text)]
print(json.dumps({"attempts": attempts, "found": found}, ensure_ascii=False))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"),
               PYTHONPATH=str(REPO), CDP_POLICY_DIR=str(REPO / "policies"))
    env.pop("TLDEXTRACT_CACHE", None)
    return env


def test_scan_runs_with_sockets_disabled_and_writes_no_cache(tmp_path):
    proc = subprocess.run([sys.executable, "-c", NO_NETWORK], capture_output=True, text=True,
                          env=_env(tmp_path), cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["attempts"] == []  # nothing even tried to connect or resolve a name
    got = report["found"]
    assert ["EMAIL_ADDRESS", "wang.fang@mail.pku.edu.cn"] in got
    assert ["EMAIL_ADDRESS", "john@corp-health.com.cn"] in got
    assert ["PHONE_NUMBER", "13812345678"] in got and ["IP_ADDRESS", "114.88.21.7"] in got
    assert "network disabled" not in proc.stderr
    # tldextract used its bundled suffix list: no cache but ONNX Runtime's local device id
    # (a file its native library writes when it starts; nothing is sent anywhere)
    cache = tmp_path / "cache"
    written = sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())
    assert all(p.startswith("Microsoft/DeveloperTools/.onnxruntime/") for p in written), written
    # and the model found a name that no rule would (a sentence opening with it)
    assert ["PERSON", "黄成阳"] in got


def test_one_analyzer_per_process(analyzer):
    assert get_analyzer() is analyzer
    scan_text("电话13812345678")
    assert get_analyzer() is analyzer


# ---- pathological input ----------------------------------------------------------------

def _timed(text: str) -> tuple[list, float]:
    t0 = time.perf_counter()
    ents = scan_text(text)
    return ents, time.perf_counter() - t0


def test_a_megabyte_of_digits_is_refused_at_once(analyzer):
    t0 = time.perf_counter()
    with pytest.raises(TextTooLarge) as err:
        scan_text("1" * 1_000_000)
    assert time.perf_counter() - t0 < 1
    assert "1111" not in err.value.message  # sizes only, never the text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1" * 20_000, 0),                       # one long digit run
        ("13812345678" * 1_800, 0),              # glued mobiles are not a phone number
        ("王先生" * 6_000, 6_000),                # 6,000 honorific names, each found
        ("😀" * 20_000, 0),                       # a run without spaces (spaCy is quadratic)
        ("1:" * 10_000, 0),                      # IPv6-shaped
        ("北京市朝阳区建国路" * 2_000, None),       # address-shaped repetition
        ("a@" * 10_000, 0),
        ("Mr. Smith " * 2_000, 2_000),
        ("6222 " * 4_000, 0),
    ],
    ids=["digits", "mobiles", "honorifics", "emoji", "ipv6", "addresses", "at-signs",
         "titles", "card-groups"],
)
def test_repeated_patterns_return_promptly(analyzer, text, expected):
    ents, took = _timed(text)
    assert took < 15, f"took {took:.1f}s"
    if expected is not None:
        assert len(ents) == expected
    assert all(0 <= e.start < e.end <= len(text) for e in ents)


def test_long_text_windows_do_not_lose_or_shift_entities(analyzer):
    filler = "今天天气不错，药品已收到。" * 300           # pushes values across window edges
    parts, expected = [], []
    for i in range(12):
        phone = f"1391234{i:04d}"
        parts.append(filler[: 137 * (i + 1)])
        expected.append(phone)
        parts.append("电话" + phone)
    text = "，".join(parts)
    assert len(text) < MAX_TEXT_CHARS
    got = [text[e.start : e.end] for e in scan_text(text) if e.type == "PHONE_NUMBER"]
    assert got == expected


# ---- cdp pii scan ----------------------------------------------------------------------

def test_cdp_pii_scan_end_to_end(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    good_zh = "患者张伟，电话13812345678，订单号JD1234567890123"
    good_en = "Call John Smith at +1 415-555-2671"
    lines = [
        json.dumps({"id": "a", "text": good_zh, "language": "zh"}, ensure_ascii=False).encode(),
        json.dumps({"id": "b", "text": good_en}).encode(),
        b'{"id": "c", "text": "\xff\xfe invalid utf-8 13812345678"}',
        b"not json at all",
        json.dumps({"id": "d"}).encode(),
        json.dumps({"id": "e", "text": "1" * 1_000_000}).encode(),   # a megabyte of digits
        json.dumps({"id": "f", "text": "没有个人信息"}, ensure_ascii=False).encode(),
    ]
    inp.write_bytes(b"\n".join(lines) + b"\n")
    t0 = time.perf_counter()
    proc = subprocess.run([CDP, "pii", "scan", "--input", str(inp), "--output", str(out)],
                          capture_output=True, text=True, env=_env(tmp_path), cwd=tmp_path,
                          timeout=120)
    assert time.perf_counter() - t0 < 60
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(lines)  # one output line per input line, in order
    a, b, c, bad_json, d, e, f = rows
    assert [(x["type"], good_zh[x["start"] : x["end"]]) for x in a["entities"]] == [
        ("PERSON", "张伟"), ("PHONE_NUMBER", "13812345678")]
    assert [(x["type"], good_en[x["start"] : x["end"]]) for x in b["entities"]] == [
        ("PERSON", "John Smith"), ("PHONE_NUMBER", "+1 415-555-2671")]
    assert all(set(x) == {"type", "start", "end", "score"} for x in a["entities"])
    assert c["error"] == "invalid UTF-8" and c["line"] == 3
    assert bad_json["error"] == "malformed JSON" and bad_json["line"] == 4
    assert d["id"] == "d" and "text" in d["error"]
    assert e["error"] == "line too long" and e["line"] == 6  # drained, not held in memory
    assert f == {"id": "f", "entities": []}
    assert "line 3: invalid UTF-8" in proc.stderr
    assert "7 lines, 3 scanned, 4 errors" in proc.stdout  # the summary (OUT is a file)
    # no personal data in what the command prints
    assert "13812345678" not in proc.stderr + proc.stdout
    assert "张伟" not in proc.stderr + proc.stdout
    assert "it/s" not in proc.stderr  # no progress bar when stderr is not a terminal


def test_cdp_pii_scan_streams_stdin_to_stdout(analyzer):
    from click.testing import CliRunner

    from cdp.cli import cli

    data = "\n".join(json.dumps({"id": i, "text": f"邮箱user{i}@qq.com"}) for i in range(50))
    result = CliRunner().invoke(cli, ["pii", "scan", "--input", "-", "--output", "-"],
                                input=data.encode())
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == list(range(50))
    assert all(r["entities"][0]["type"] == "EMAIL_ADDRESS" for r in rows)
    assert "50 lines, 50 scanned, 0 errors" in result.stderr


def test_cdp_pii_scan_missing_input_is_a_usage_error(tmp_path):
    from click.testing import CliRunner

    from cdp.cli import cli

    result = CliRunner().invoke(cli, ["pii", "scan", "--input", str(tmp_path / "nope.jsonl"),
                                      "--output", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr and result.exception is None or \
        isinstance(result.exception, SystemExit)


def test_cdp_pii_scan_shows_progress_on_a_terminal(tmp_path):
    import fcntl
    import pty
    import struct
    import termios

    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("\n".join(json.dumps({"id": i, "text": "电话13812345678"})
                             for i in range(20)) + "\n", encoding="utf-8")
    master, slave = pty.openpty()
    # a new pty is 0 columns wide, and tqdm draws nothing in 0 columns
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        proc = subprocess.run([CDP, "pii", "scan", "--input", str(inp), "--output", str(out)],
                              stdout=subprocess.PIPE, stderr=slave, env=_env(tmp_path),
                              cwd=tmp_path, timeout=120)
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    terminal = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0
    assert "pii scan: 20/20" in terminal or ("pii scan" in terminal and "20line" in terminal)
    assert len(out.read_text(encoding="utf-8").splitlines()) == 20
