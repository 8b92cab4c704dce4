"""The shared floor: direct Kubernetes API access for what Pulumi's resource model cannot
see, used by every feature package and importing none of them.

The API client and its one error classifier (``client``), reachability (``reach``), Helm's
release records (``helm_storage``), live objects with dry-run and forced applies
(``live``), the one render of a chart (``render``), the post-renderer (``postrender``),
Helm hooks in chart mode (``helm_hooks``), pre-flight probes of clusters (``clusters``),
GETs through the API server's service proxy (``proxy``), why Pods are not Ready
(``pods``) and facts about kinds (``kinds``). What acts on releases lives above it:
``rollback/`` (rollback, recovery, out-of-band revisions) and ``ownership/``.
"""
