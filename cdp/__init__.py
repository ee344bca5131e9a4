"""Privacy-first customer data platform for online pharmacies."""

__version__ = "0.1.0"
