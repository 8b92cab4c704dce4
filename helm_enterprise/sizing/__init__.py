"""Right-sizing of a release's containers from observed usage (T3.5), KRR's simple
strategy: the CPU request is the 95th percentile of the usage rate over the window, the
memory request (and limit) the peak working set plus 15 %; a container with fewer samples
than required gets no recommendation.

* :mod:`.recommend` — the numbers, the quantities and the values patch (pure);
* :mod:`.usage` — the PromQL against cAdvisor's series (``container_cpu_usage_seconds_total``,
  ``container_memory_working_set_bytes``) of the release's Pods.
"""
