"""Authentication (API keys), casbin policies, purpose and consent checks, field views."""
