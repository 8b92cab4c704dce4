"""Rollback and recovery of Helm releases (T1.4): the three ways a release's revision is
put back, each decided apart from acted on.

* :mod:`.helm` — ``helm rollback`` to a chosen revision (the ``rollback`` command, a failed
  health check) and Helm's own atomic rollback read back from the history; both recorded
  for audit through the recorder the caller passes (``helm_enterprise.audit.emit``);
* :mod:`.recovery` — releases a killed run left ``pending-*`` or a failed first install:
  marked failed or replaced so the next ``pulumi up`` can proceed;
* :mod:`.outofband` — revisions made outside the stack (a hand ``helm rollback`` or
  ``helm upgrade``): marked in Helm's description and upgraded back.

It reads Helm's history through :mod:`helm_enterprise.kube` (the floor) and imports no
other feature package: callers (the Release component, the health check, the CLI) audit.
"""
