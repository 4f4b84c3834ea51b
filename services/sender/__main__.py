"""`python -m services.sender`: the sender alone, on port 8082 unless PARLEY_PORT says otherwise."""

from libs.common.service import serve
from services.sender.app import service

serve([service()], default_port=8082)
