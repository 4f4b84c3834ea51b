from libs.common.config import Settings
from libs.common.service import serve
from services.console.app import standalone_app

settings = Settings()
serve([], settings, default_port=8084, app=standalone_app(settings))
