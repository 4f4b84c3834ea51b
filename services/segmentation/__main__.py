"""`python -m services.segmentation`: segmentation alone, on port 8083 unless PARLEY_PORT is set."""

from libs.common.service import serve
from services.segmentation.app import service

serve([service()], default_port=8083)
