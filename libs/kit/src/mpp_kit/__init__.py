"""Plumbing shared by every service: settings, broker, database, outbox and inbox, telemetry, HTTP."""
