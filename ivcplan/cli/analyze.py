"""`ivcplan analyze` command."""

from __future__ import annotations

from ivcplan.cli import app  # noqa: F401
