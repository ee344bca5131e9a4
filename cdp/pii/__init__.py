"""PII detection and redaction on Presidio, offline (no model download, no network).

Public entry points: :func:`cdp.pii.scan.scan_text`, :func:`cdp.pii.redact.redact_text`,
:func:`cdp.pii.redact.redact_for` (text rendered for a role view or export profile, i.e. a
policy file in ``policies/pii``), :func:`cdp.pii.redact.restore_encrypted`,
:func:`cdp.pii.classify.classify_field`, :func:`cdp.pii.analyzer.get_analyzer` and the
``pii`` click group in :mod:`cdp.pii.commands` (``cdp pii scan``).
"""
