from __future__ import annotations

# Imported up front so its modules are compiled before any test runs (see pyproject's
# addopts for the CPython 3.11 AST recursion-depth issue this avoids).
import hypothesis  # noqa: F401
