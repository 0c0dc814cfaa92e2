"""A local stand-in for an OpenAI-compatible chat completions API: the request and response
shapes of POST /v1/chat/completions, its error body, Retry-After on 429, and slow answers.
Each request takes the next scripted reply, then the default one; every request is kept."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    content: str | None = None  # the assistant message; None: a title from the keywords
    finish_reason: str = "stop"
    refusal: str | None = None
    error: str | None = None  # for non-2xx: {"error": {"message": …}}
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    raw: bytes | None = None  # a body sent as is


def completion(model: str, content: str | None, finish_reason: str = "stop", refusal: str | None = None) -> dict:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": finish_reason,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
            }
        ],
        "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
    }


class ChatServer:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.script: list[Reply] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                server.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                reply = server.script.pop(0) if server.script else Reply()
                time.sleep(reply.delay)
                if self.path != "/v1/chat/completions":
                    reply = Reply(status=404, error=f"unknown path {self.path}")
                if reply.raw is not None:
                    payload = reply.raw
                elif reply.status != 200:
                    payload = json.dumps(
                        {"error": {"message": reply.error or "error", "type": "api_error", "param": None, "code": None}}
                    ).encode()
                else:
                    content = reply.content if reply.content is not None else default_answer(body)
                    payload = json.dumps(
                        completion(body.get("model", "?"), content, reply.finish_reason, reply.refusal)
                    ).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def default_answer(body: dict[str, Any]) -> str:
    facts = json.loads(body["messages"][-1]["content"])
    words = ", ".join(facts.get("keywords", [])[:2]) or "a quiet video"
    return json.dumps({"title": f"Model title: {words}", "description": f"Model description of {facts['file_name']}."})
