"""The classroom TUI (Textual): `ntsim tui`. See app.py for the screens, bridge.py for how
the machine's thread and the UI's meet, lessons.py for `--lesson`."""
