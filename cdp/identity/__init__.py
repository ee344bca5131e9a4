"""Identity: normalisation, matching, resolution, merge/split, the unified view."""
