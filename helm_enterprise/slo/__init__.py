"""Service level objectives of releases (T4.3).

* :mod:`.rules` — the Prometheus recording and alert rules of an SLO, with Sloth's names
  and the multiwindow, multi-burn-rate alerts (pure);
* :mod:`.openslo` — the same SLOs as OpenSLO ``openslo/v1`` documents (pure);
* :mod:`.prometheus` — the few Prometheus HTTP API calls the rest needs (query, reload,
  loaded rule groups, firing alerts);
* :mod:`.resource` — the dynamic resource that writes a release's rule file where
  Prometheus reads it and reloads it, during ``pulumi up``;
* :mod:`.status` — objective, SLI, budget remaining, burn rate per window and firing alerts
  of each SLO, read back from Prometheus (``helm-enterprise slo status``), and the gate that
  stops a release's upgrade while a burn-rate alert fires.
"""
