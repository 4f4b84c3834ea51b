"""Ingress: where carriers and phones reach Parley (webhooks, tracked links)."""
