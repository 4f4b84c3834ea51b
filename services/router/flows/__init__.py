"""Declarative conversations: the flow model (validated), the engine (pure), the shipped playbooks."""
