"""Screens that are more than a declared list: each module holds one screen's requests."""
