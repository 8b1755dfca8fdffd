"""Seed data: the article's world (world.py) and the loaders that put it in the database."""
