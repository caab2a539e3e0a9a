"""`gridloop ledger verify` as an operator runs it: a live ledger database checked, and a
database that cannot be read answered in one line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from common.db import upgrade_database
from gridloop_tools.cli.main import app
from ledger.bootstrap import MIGRATIONS


def verify(url: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        app, ["ledger", "verify", "--database-url", url], env={"COLUMNS": "200"}
    )
    return result.exit_code, result.output


def test_a_migrated_ledger_verifies(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}"
    upgrade_database(url, MIGRATIONS)
    code, output = verify(url)
    assert code == 0, output
    assert "0 accounts, 0 transfers" in output
    assert "district_sums: ok" in output


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sqlite+aiosqlite:///{tmp}/missing.db", "no SQLite database at"),
        ("sqlite+aiosqlite:///{tmp}/other.db", "no such table"),
        ("not a url", "not a database URL"),
    ],
)
def test_a_database_that_cannot_be_read_is_one_line_and_exit_2(
    tmp_path: Path, url: str, reason: str
) -> None:
    (tmp_path / "other.db").write_bytes(b"")
    code, output = verify(url.format(tmp=tmp_path))
    assert code == 2, output
    assert "cannot read the ledger" in output and reason in output
    assert "Traceback" not in output
    assert not (tmp_path / "missing.db").exists()
