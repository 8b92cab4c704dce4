from __future__ import annotations

# Imported up front: pytest's assertion rewriter otherwise compiles hypothesis lazily at the
# end of the session, after Pulumi's event loop threads ran, which trips a CPython 3.11
# AST recursion-depth check ("AST constructor recursion depth mismatch").
import hypothesis  # noqa: F401
