"""An internal error is one line and a report file, never a traceback (issue 7)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ntsim import cli
from ntsim.machine import Machine

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "linux"


def _broken_run(self):
    raise RuntimeError("a bug inside ntsim\nwith a second line")


def test_internal_error_is_one_line_naming_a_report(monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.setattr(Machine, "run", _broken_run)
    monkeypatch.delenv("NTSIM_DEBUG", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    status = cli.main(["run", "--root", str(EXAMPLES), str(EXAMPLES / "hello")])
    err = capsys.readouterr().err
    assert status == 125
    assert "Traceback" not in err
    (line,) = err.splitlines()
    assert line.startswith("ntsim: internal error: RuntimeError: a bug inside ntsim (details in ")
    report = Path(line.rsplit("(details in ", 1)[1].rstrip(")"))
    assert report.parent == tmp_path
    text = report.read_text()
    assert "Traceback" in text and "a bug inside ntsim" in text and "_broken_run" in text
    assert f"command: ntsim run --root {EXAMPLES}" in text


@pytest.mark.parametrize("how", ["--debug", "NTSIM_DEBUG"])
def test_debug_shows_the_traceback_instead(monkeypatch, how) -> None:
    monkeypatch.setattr(Machine, "run", _broken_run)
    if how == "NTSIM_DEBUG":
        monkeypatch.setenv("NTSIM_DEBUG", "1")
        argv = ["run", "--root", str(EXAMPLES), str(EXAMPLES / "hello")]
    else:
        monkeypatch.delenv("NTSIM_DEBUG", raising=False)
        argv = ["run", "--debug", "--root", str(EXAMPLES), str(EXAMPLES / "hello")]
    with pytest.raises(RuntimeError, match="a bug inside ntsim"):
        cli.main(argv)
    assert os.environ.get("NTSIM_DEBUG") == ("1" if how == "NTSIM_DEBUG" else None)
