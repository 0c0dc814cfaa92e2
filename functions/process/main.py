"""The `process` function: a thin door to shared.usecases.process."""

import flask
import functions_framework

from shared.function_door import Reply, serve_step
from shared.usecases.process import accept_event


@functions_framework.http
def process(request: flask.Request) -> Reply:
    return serve_step(request, "process", accept_event)
