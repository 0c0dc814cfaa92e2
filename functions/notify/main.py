"""The `notify` function: a thin door to shared.usecases.notify."""

import flask
import functions_framework

from shared.function_door import Reply, serve_step
from shared.usecases.notify import accept_event


@functions_framework.http
def notify(request: flask.Request) -> Reply:
    return serve_step(request, "notify", accept_event)
