"""The `ingest` function: a thin door to shared.usecases.ingest."""

import flask
import functions_framework

from shared.function_door import Reply, serve
from shared.usecases.ingest import handle_event


@functions_framework.http
def ingest(request: flask.Request) -> Reply:
    return serve(request, "ingest", handle_event)
