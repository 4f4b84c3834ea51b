"""The shipped playbooks (flows and demo campaign keywords) and loading them into a tenant."""

from __future__ import annotations

from pathlib import Path

import yaml

from services.router.flows.model import Flow, Rule

PLAYBOOKS = Path(__file__).parent / "playbooks"


def flows() -> list[Flow]:
    return [Flow.model_validate(yaml.safe_load(p.read_text()))
            for p in sorted(PLAYBOOKS.glob("*.yaml")) if p.stem != "campaigns"]


def campaigns() -> list[Rule]:
    return [Rule.model_validate(item) for item in yaml.safe_load((PLAYBOOKS / "campaigns.yaml").read_text())]
