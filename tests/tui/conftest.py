import pytest
from textual.widgets import Input


@pytest.fixture(autouse=True)
def _no_cursor_blink(monkeypatch):
    """A blinking cursor makes screenshots differ by one cell (Harlequin's fix)."""
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None, raising=False)
