"""Helpers tests share: read topics raw, wait for conditions, build events."""
