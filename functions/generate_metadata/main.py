"""The `generate_metadata` function: a thin door to shared.usecases.generate_metadata."""

import flask
import functions_framework

from shared.function_door import Reply, serve_step
from shared.usecases.generate_metadata import accept_event


@functions_framework.http
def generate_metadata(request: flask.Request) -> Reply:
    return serve_step(request, "generate_metadata", accept_event)
