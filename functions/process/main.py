"""The `process` function: a thin door to shared.usecases.process."""

import flask
import functions_framework

from shared.function_door import Reply, serve
from shared.usecases.process import handle_event


@functions_framework.http
def process(request: flask.Request) -> Reply:
    return serve(request, "process", handle_event)
