"""The REST API: v1 and v2 of the Formance orchestration API over the projection."""

from api.app import create_app
from api.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
