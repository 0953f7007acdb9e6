"""Images: serving allow-listed frames and overlays, and scoring an uploaded picture."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from firewatch.console.images import ImageRefused, image_content_type, parse_object_uri
from firewatch.console.web import CHECKED, Console
from firewatch.core.imaging import DecodeLimits, ImageError
from firewatch.errors import ModelError


def router(console: Console) -> APIRouter:
    routes = APIRouter()
    config = console.config

    @routes.get("/image")
    def image(uri: str):
        try:
            ref = parse_object_uri(uri, config.allowed_buckets)
            data = console.store.read_object(ref, config.max_upload_bytes)
            content_type = image_content_type(data)
        except ImageRefused as exc:
            return Response(f"refused: {exc}\n", status_code=400, media_type="text/plain")
        except (FileNotFoundError, ValueError) as exc:
            return Response(f"not available: {exc}\n", status_code=404, media_type="text/plain")
        return Response(data, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"})

    @routes.get("/upload", response_class=HTMLResponse)
    def upload_form(request: Request):
        return console.page(request, "upload.html", result=None, error=None, enabled=console.scorer is not None)

    @routes.post("/upload", response_class=HTMLResponse, dependencies=CHECKED)
    async def upload(request: Request, image: UploadFile):
        def refused(status: int, error: str, enabled: bool = True) -> HTMLResponse:
            return console.page(request, "upload.html", status=status, result=None, enabled=enabled, error=error)

        scorer = console.scorer
        if scorer is None:
            return refused(400, "no model configured: start the console with --model MODEL_DIR", enabled=False)
        data = await image.read(config.max_upload_bytes + 1)
        if len(data) > config.max_upload_bytes:
            return refused(413, f"the image is larger than {config.max_upload_bytes} bytes (--max-upload-bytes)")
        try:
            result = await asyncio.to_thread(scorer.score, data, DecodeLimits())
        except ImageError as exc:
            return refused(400, f"not scored: {exc}")
        except (ModelError, OSError) as exc:  # the configured model: missing, unreadable, not an export
            return refused(503, f"the model {config.model} could not be loaded: {exc}")
        return console.page(request, "upload.html", result=result, error=None, enabled=True, filename=image.filename)

    return routes
