from libs.common.service import serve
from services.segmentation.app import service

serve([service()])
