from libs.common.service import serve
from services.router.app import service

serve([service()])
