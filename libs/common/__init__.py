"""Code shared by every Parley service: config, event schemas, bus, database, phone numbers,
observability. Nothing here imports a service."""
