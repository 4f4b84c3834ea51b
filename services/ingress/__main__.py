"""`python -m services.ingress`: the ingress alone, on port 8080 unless PARLEY_PORT says otherwise."""

from libs.common.service import serve
from services.ingress.app import service

serve([service()], default_port=8080)
