"""``python -m helm_enterprise.cli`` (same as the ``helm-enterprise`` command)."""

from helm_enterprise.cli import main

main()
