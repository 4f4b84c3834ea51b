"""Segmentation: turns every reply, send and click into subscriber data."""
