"""The helm-enterprise CrossGuard policy pack (``__main__.py`` starts it)."""
