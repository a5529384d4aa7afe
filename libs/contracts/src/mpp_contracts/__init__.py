"""Event contracts of the Mini MPP platform: pydantic models and topic names only, no service logic."""
