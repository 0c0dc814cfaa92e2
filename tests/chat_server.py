"""A local stand-in for an OpenAI-compatible chat completions API: the request and response
shapes of POST /v1/chat/completions, its error body, Retry-After on 429, and slow answers.
Each request takes the next scripted reply, then the default one; every request is kept."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from tests import scripted_api


@dataclass
class Reply(scripted_api.Reply):
    content: str | None = None  # the assistant message; None: a title from the keywords
    finish_reason: str = "stop"
    refusal: str | None = None


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


class ChatServer(scripted_api.ScriptedApi):
    path = "/v1/chat/completions"
    error_type = "api_error"

    def default_reply(self) -> Reply:
        return Reply()

    def parse(self, headers: dict[str, str], body: bytes) -> tuple[dict[str, str], dict[str, Any]]:
        return headers, json.loads(body or b"{}")

    def answer(self, request: tuple[dict[str, str], dict[str, Any]], reply: scripted_api.Reply) -> dict[str, Any]:
        body = request[1]
        chat = reply if isinstance(reply, Reply) else Reply()
        content = chat.content if chat.content is not None else default_answer(body)
        return completion(body.get("model", "?"), content, chat.finish_reason, chat.refusal)


def default_answer(body: dict[str, Any]) -> str:
    facts = json.loads(body["messages"][-1]["content"])
    words = ", ".join(facts.get("keywords", [])[:2]) or "a quiet video"
    return json.dumps({"title": f"Model title: {words}", "description": f"Model description of {facts['file_name']}."})
