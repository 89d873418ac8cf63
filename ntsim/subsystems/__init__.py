"""Personalities (the subsystems) and the servers they talk to."""
