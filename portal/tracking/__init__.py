"""Tracking: recording download events, and (later) the counting rules and rollups."""
