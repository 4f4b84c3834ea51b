"""Parley's four services. Each is runnable alone (`python -m services.<name>`); `parley run`
(`python -m services`) hosts all four in one process. No service imports another."""
