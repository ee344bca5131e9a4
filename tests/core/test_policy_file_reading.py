"""Every policy file is read through the platform's PolicyFiles: an edit is seen on the next
call, an unchanged file is not parsed again, a broken file is named with its line, and two
platforms on different directories share nothing."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from cdp.audit.schedule import checkpoint_interval
from cdp.config import Config
from cdp.console.settings import console_policy
from cdp.crm.settings import CrmPolicyError, load_settings
from cdp.identity.rules import load_rules
from cdp.pii.redact import redact_for
from cdp.platform import Platform
from cdp.policyfiles import PolicyFileError, PolicyFiles
from cdp.rights.policy import load_retention
from tests.conftest import POLICY_DIR

REPO = Path(__file__).resolve().parents[2]
HOUR_AGO_NS = 3600 * 10**9


@pytest.fixture
def pol(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target)
    return target


def _age(path: Path) -> None:
    """Date the file an hour back: its signature alone then says whether it changed."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns - HOUR_AGO_NS, st.st_mtime_ns - HOUR_AGO_NS))


def test_an_edited_file_is_read_again_on_the_next_call(pol: Path) -> None:
    files = PolicyFiles(pol)
    (pol / "audit.toml").write_text("[checkpoints]\nevery_minutes = 5\n")
    assert checkpoint_interval(files).total_seconds() == 300
    (pol / "audit.toml").write_text("[checkpoints]\nevery_minutes = 15\n")  # size changes
    assert checkpoint_interval(files).total_seconds() == 900
    # Same size, same inode, same mtime (an edit within one timestamp tick): the content
    # of a file written moments ago is compared, so the edit is still seen.
    st = (pol / "audit.toml").stat()
    (pol / "audit.toml").write_text("[checkpoints]\nevery_minutes = 25\n")
    os.utime(pol / "audit.toml", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert files.signature("audit.toml") == (st.st_mtime_ns, st.st_size, st.st_ino)
    assert checkpoint_interval(files).total_seconds() == 1500
    # A file that appears or goes is seen too.
    (pol / "audit.toml").unlink()
    assert checkpoint_interval(files).total_seconds() == 3600
    (pol / "retention.toml").write_text("[dsr]\ndeadline_days = 9\n")
    assert load_retention(files).dsr_deadline.days == 9


def test_an_unchanged_file_is_not_parsed_again(pol: Path) -> None:
    for path in pol.rglob("*"):
        if path.is_file():
            _age(path)
    files = PolicyFiles(pol)
    first = load_settings(files)
    parses, builds, reads = files.parses, files.builds, files.reads
    assert parses == 2 and builds == 1  # crm.toml and catalog.toml
    for _ in range(5):
        assert load_settings(files) is first
    assert (files.parses, files.builds, files.reads) == (parses, builds, reads)
    # roles.toml is parsed once for every capability that reads it.
    console_policy(files)
    before = files.parses
    from cdp.access.policy import policy_store

    policy_store(files).current()
    policy_store(files).current()
    assert files.parses == before + 1  # views.toml; roles.toml was already parsed

    # Editing catalog.toml rebuilds the settings from the cached crm.toml and the new
    # catalog: one parse.
    with (pol / "catalog.toml").open("a") as fh:
        fh.write('\n[sku.NEW1]\natc = "C10AA05"\ndays_per_unit = 30\n')
    parses = files.parses
    again = load_settings(files)
    assert again is not first and again.catalog["NEW1"] == ("C10AA05", 30)
    assert files.parses == parses + 1


def test_a_racy_file_is_compared_but_not_parsed_again(pol: Path) -> None:
    """A file written in the last seconds is read again on each call (its signature could
    miss a same-tick edit), but parsed only when its bytes changed."""
    files = PolicyFiles(pol)
    (pol / "audit.toml").write_text("[checkpoints]\nevery_minutes = 5\n")
    checkpoint_interval(files)
    parses, builds, reads = files.parses, files.builds, files.reads
    for _ in range(3):
        checkpoint_interval(files)
    assert (files.parses, files.builds) == (parses, builds)
    assert files.reads == reads + 3


def test_a_bad_toml_file_is_named_with_its_line(pol: Path) -> None:
    files = PolicyFiles(pol)
    (pol / "crm.toml").write_text('timezone = "Asia/Shanghai"\n\n[clv\ndiscount_rate = 0.1\n')
    with pytest.raises(PolicyFileError) as info:
        files.document("crm.toml")
    assert info.value.file == "crm.toml" and info.value.line == 3
    assert info.value.message.startswith("crm.toml line 3: not valid TOML")
    with pytest.raises(CrmPolicyError, match=r"^crm\.toml line 3: not valid TOML"):
        load_settings(files)
    # The parse error is kept with the file's signature: asking again does not parse again.
    parses = files.parses
    with pytest.raises(CrmPolicyError):
        load_settings(files)
    assert files.parses == parses
    with pytest.raises(PolicyFileError, match="not a policy file name"):
        files.document("../etc/passwd")


def test_a_bad_file_is_a_clean_json_error_over_http(
    pol: Path, config: Config, make_api_key
) -> None:  # type: ignore[no-untyped-def]
    from cdp.app import create_app

    app = create_app(replace(config, policy_dir=str(pol)))
    try:
        client = app.test_client()
        headers = {**make_api_key("marketing"), "X-Purpose-Of-Use": "marketing"}
        assert client.get("/v1/crm/segments", headers=headers).status_code == 200
        (pol / "segments" / "zz.toml").write_text('[[segment]]\nname = "x"\nwhen = {\n')
        r = client.get("/v1/crm/segments", headers=headers)
        body = r.get_json()
        assert r.status_code == 500 and body["error"]["code"] == "segment_invalid"
        assert body["error"]["message"].startswith("segments/zz.toml line 3: not valid TOML")
        assert str(pol) not in body["error"]["message"]  # no server paths to the client
        (pol / "segments" / "zz.toml").unlink()
        assert client.get("/v1/crm/segments", headers=headers).status_code == 200
    finally:
        app.extensions["cdp"].dispose()


def test_a_bad_file_is_a_clean_cli_error(pol: Path, cli_env: dict[str, str]) -> None:
    from cdp.cli import cli

    (pol / "exports" / "broken.toml").write_text('recipient = "bi"\nk = \n')
    env = dict(cli_env, CDP_POLICY_DIR=str(pol))
    result = CliRunner().invoke(cli, ["export", "profiles"], env=env)
    assert result.exit_code == 2, result.output
    assert "export profile 'broken': exports/broken.toml line 2: not valid TOML" in result.output
    assert "Traceback" not in result.output
    (pol / "roles.toml").write_text("[roles\n")
    result = CliRunner().invoke(cli, ["access", "check", "--policy-dir", str(pol)], env=env)
    assert result.exit_code == 1 and "roles.toml line 1: not valid TOML" in result.output


def test_two_platforms_on_different_directories_share_nothing(
    pol: Path, config: Config
) -> None:
    (pol / "identity.toml").write_text(
        (pol / "identity.toml").read_text().replace("link_threshold = ", "link_threshold = 1")
    )
    (pol / "pii" / "masked.toml").write_text('[default]\noperator = "replace"\nvalue = "[X]"\n')
    a = Platform(config)
    b = Platform(replace(config, policy_dir=str(pol)))
    try:
        assert a.policies is not b.policies
        ra, rb = load_rules(a.policies), load_rules(b.policies)
        assert ra.link_threshold != rb.link_threshold
        assert load_rules(a.policies) is ra and load_rules(b.policies) is rb
        text = "电话13812345678"
        assert redact_for(text, "masked", policies=b.policies) == "电话[X]"
        assert redact_for(text, "masked", policies=a.policies) != "电话[X]"
        # Each kept what it read from its own directory only.
        assert load_rules(a.policies).link_threshold == ra.link_threshold
        assert redact_for(text, "masked", policies=a.policies) != "电话[X]"
    finally:
        a.dispose()
        b.dispose()


def test_pii_without_a_platform_uses_the_configured_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pii").mkdir()
    (tmp_path / "pii" / "masked.toml").write_text('[default]\noperator = "replace"\nvalue = "[Y]"\n')
    monkeypatch.setenv("CDP_POLICY_DIR", str(tmp_path))
    assert redact_for("电话13812345678", "masked") == "电话[Y]"


def test_only_config_reads_the_policy_directory_from_the_environment() -> None:
    read = re.compile(r"""(environ|getenv|env)\s*(\.get\(|\[|\()\s*["']CDP_POLICY_DIR""")
    readers = sorted(str(path.relative_to(REPO)) for path in (REPO / "cdp").rglob("*.py")
                     if read.search(path.read_text(encoding="utf-8")))
    assert readers == ["cdp/config.py"], readers
    # and no module parses policy documents of its own: tomllib only inside PolicyFiles
    parsers = sorted(str(path.relative_to(REPO)) for path in (REPO / "cdp").rglob("*.py")
                     if re.search(r"^\s*(import|from) tomllib", path.read_text(encoding="utf-8"),
                                  re.M))
    assert parsers == ["cdp/policyfiles.py"], parsers
