"""Anonymised exports: profiles, transforms, k-anonymity, writers, signed manifests, runs."""
