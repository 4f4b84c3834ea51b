"""Tables grouped by the service that owns (writes) them. Others may only read.

- tenancy: tenants, API keys, carrier credentials (owner: router, which serves /v1/tenants)
- ingress: inbound dedup keys, concatenated-message parts
- router: consent and its audit trail, keyword rules, flows, conversations, timers, webhooks
- sender: sending numbers, outbound messages, the simulated carrier's handset log
- segmentation: subscribers
"""

from libs.common.db.models import ingress, router, segmentation, sender, tenancy

__all__ = ["ingress", "router", "segmentation", "sender", "tenancy"]
