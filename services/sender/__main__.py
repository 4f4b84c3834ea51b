from libs.common.service import serve
from services.sender.app import service

serve([service()])
