from libs.common.service import serve
from services.ingress.app import service

serve([service()])
