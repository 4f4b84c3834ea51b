"""Sender: turns each sms.outbound action into exactly one message at a carrier."""
