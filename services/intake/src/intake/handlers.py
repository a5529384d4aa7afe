"""Intake reacts to no event: it only keeps a copy of the catalogue topics, as read models wired in app.py."""
