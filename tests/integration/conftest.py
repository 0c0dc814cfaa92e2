from tests.integration.doors import env, function_db_url

__all__ = ["env", "function_db_url"]
