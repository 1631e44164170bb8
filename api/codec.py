"""The codec endpoint the Temporal UI calls to show operators decrypted payloads.

Temporal's remote codec protocol: ``POST {endpoint}/decode`` (and ``/encode``) with
``{"payloads": [...]}`` in protobuf JSON, answered in kind. The endpoint's path carries the
operator token (``herald secrets operator-token``): the UI's "Codec Server" setting takes a
URL and nothing else, and a browser cannot send basic credentials with it. A wrong token is a
404, like a path that is not there. Mounted at ``/codec`` as an application of its own, so its
CORS rule (the Temporal UI's origin may call it from the browser) covers nothing else.
"""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.middleware.cors import CORSMiddleware
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from herald.payloads import PayloadEncryption
from herald.secrets import SecretKeys, operator_token


def codec_app(keys: SecretKeys, ui_origins: list[str]) -> FastAPI:
    codec = PayloadEncryption(keys)
    expected = operator_token(keys)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=ui_origins,
        allow_methods=["POST"],
        allow_headers=["content-type", "x-namespace", "authorization"],
        allow_credentials=True,
    )

    async def payloads(request: Request, token: str) -> Payloads:
        if not hmac.compare_digest(token.encode(), expected.encode()):
            raise HTTPException(404, "Not Found")
        try:
            return json_format.Parse(await request.body(), Payloads())
        except json_format.ParseError as exc:
            raise HTTPException(422, "not Temporal payloads in protobuf JSON") from exc

    @app.post("/{token}/decode")
    async def decode(token: str, request: Request) -> dict[str, Any]:
        given = await payloads(request, token)
        try:
            clear = await codec.decode(given.payloads)
        except ValueError as exc:  # under a key no longer configured, or altered
            raise HTTPException(422, str(exc)) from exc
        return json_format.MessageToDict(Payloads(payloads=clear))

    @app.post("/{token}/encode")
    async def encode(token: str, request: Request) -> dict[str, Any]:
        given = await payloads(request, token)
        return json_format.MessageToDict(Payloads(payloads=await codec.encode(given.payloads)))

    return app
