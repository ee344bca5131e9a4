"""Fixtures of the pure identity tests: a fresh keyring and the shipped identity rules."""

from __future__ import annotations

import pytest

from cdp.crypto.keyring import Keyring
from cdp.identity.rules import IdentityRules, load_rules
from cdp.policyfiles import PolicyFiles
from tests.conftest import POLICY_DIR


@pytest.fixture(scope="module")
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture(scope="module")
def rules() -> IdentityRules:
    return load_rules(PolicyFiles(POLICY_DIR))
