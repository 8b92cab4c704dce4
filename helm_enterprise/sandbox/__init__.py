"""The local platform for e2e tests and the quickstart: toolchain, clusters and services.

Only ``helm_enterprise.cli`` and the tests import this package; a user's ``pulumi up``
never does.
"""
