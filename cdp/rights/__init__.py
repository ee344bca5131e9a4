"""Data subject requests (PIPL arts. 44-47), consent withdrawal, restriction and retention."""
