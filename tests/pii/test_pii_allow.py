"""The deployment's own names (``pii_allow.txt`` in the policy directory): the pharmacy's
brand, which the engine reads as a person, is dropped; nobody else's name is."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cdp.pii import allow
from cdp.pii.allow import ALLOW_FILE, allowed_words
from tests.pii.conftest import person_names

pytestmark = pytest.mark.usefixtures("analyzer")

REPO_POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture
def policies(tmp_path, monkeypatch):
    """A copy of the shipped policies with a given own-names file, then used by this
    process's scans, as create_app and the ingest workers set it up (the file is read when
    the directory is taken, once)."""
    monkeypatch.setattr(allow, "_policy_dir", None)

    def make(allow_text: str | None, name: str = "policies") -> Path:
        target = tmp_path / name
        shutil.copytree(REPO_POLICIES, target)
        if allow_text is not None:
            (target / ALLOW_FILE).write_text(allow_text, encoding="utf-8")
        return target

    return make


def test_the_shipped_list_allows_nothing(policies):
    allow.use_policy_dir(str(policies(None)))
    assert allowed_words() == []
    assert person_names("康宁来电话道歉了，说给我退款", 0.4) == ["康宁"]


def test_the_pharmacy_brand_in_the_list_is_not_a_person_and_a_name_still_is(policies):
    allow.use_policy_dir(str(policies("# our own names\n康宁\n康宁优选  # the app\n\n")))
    assert allowed_words() == ["康宁", "康宁优选"]
    assert person_names("康宁来电话道歉了，说给我退款", 0.4) == []
    assert person_names("给康宁点个赞，骑手张伟送药很快", 0.4) == ["张伟"]
    # exact match only: a name that merely contains a listed word is still a name
    assert person_names("收件人康宁远，电话另告", 0.4) == ["康宁远"]


def test_a_line_that_is_no_word_stops_the_start_with_its_number(policies):
    bad = policies("康宁\n" + "长" * 41 + "\n")
    with pytest.raises(ValueError, match="pii_allow.txt line 2"):
        allow.use_policy_dir(str(bad))  # what create_app and an ingest worker call first


def test_the_service_takes_the_list_from_its_own_policy_directory(config, policies):
    import dataclasses

    from cdp.app import create_app

    target = policies("康宁\n", name="service-policies")
    app = create_app(dataclasses.replace(config, policy_dir=str(target)))
    try:
        assert person_names("康宁来电话道歉了，说给我退款", 0.4) == []
    finally:
        app.extensions["cdp"].dispose()
