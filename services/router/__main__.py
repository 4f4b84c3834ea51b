"""`python -m services.router`: the router alone, on port 8081 unless PARLEY_PORT says otherwise."""

from libs.common.service import serve
from services.router.app import service

serve([service()], default_port=8081)
