"""Direct Kubernetes API access for what Pulumi's resource model cannot see: Helm's
release records, ownership checks before apply and recovery of stuck releases."""
