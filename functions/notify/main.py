"""The `notify` function: a thin door to shared.usecases.notify."""

import flask
import functions_framework

from shared.function_door import Reply, serve
from shared.usecases.notify import handle_event


@functions_framework.http
def notify(request: flask.Request) -> Reply:
    return serve(request, "notify", handle_event)
