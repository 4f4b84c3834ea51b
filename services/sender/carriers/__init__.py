"""Carrier clients, one folder each, chosen by the sending number's registration."""
