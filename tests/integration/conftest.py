from tests.integration.doors import env

__all__ = ["env"]
