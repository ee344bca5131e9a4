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
def policy_dir(tmp_path, monkeypatch):
    """A copy of the shipped policies, used by this process's scans (as create_app and the
    ingest workers set it up)."""
    target = tmp_path / "policies"
    shutil.copytree(REPO_POLICIES, target)
    monkeypatch.setattr(allow, "_policy_dir", None)
    allow.use_policy_dir(str(target))
    return target


def test_the_shipped_list_allows_nothing(policy_dir):
    assert allowed_words(str(REPO_POLICIES)) == []
    assert person_names("康宁来电话道歉了，说给我退款", 0.4) == ["康宁"]


def test_the_pharmacy_brand_in_the_list_is_not_a_person_and_a_name_still_is(policy_dir):
    (policy_dir / ALLOW_FILE).write_text("# our own names\n康宁\n康宁优选  # the app\n\n",
                                         encoding="utf-8")
    assert allowed_words() == ["康宁", "康宁优选"]
    assert person_names("康宁来电话道歉了，说给我退款", 0.4) == []
    assert person_names("给康宁点个赞，骑手张伟送药很快", 0.4) == ["张伟"]
    # exact match only: a name that merely contains a listed word is still a name
    assert person_names("收件人康宁远，电话另告", 0.4) == ["康宁远"]


def test_a_line_that_is_no_word_is_refused_with_its_number(policy_dir):
    (policy_dir / ALLOW_FILE).write_text("康宁\n" + "长" * 41 + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        allowed_words()


def test_the_service_takes_the_list_from_its_own_policy_directory(config, tmp_path, monkeypatch):
    import dataclasses

    from cdp.app import create_app

    target = tmp_path / "service-policies"
    shutil.copytree(REPO_POLICIES, target)
    (target / ALLOW_FILE).write_text("康宁\n", encoding="utf-8")
    monkeypatch.setattr(allow, "_policy_dir", None)
    app = create_app(dataclasses.replace(config, policy_dir=str(target)))
    try:
        assert person_names("康宁来电话道歉了，说给我退款", 0.4) == []
    finally:
        app.extensions["cdp"].dispose()
