"""Asset providers behind one interface: create a task, read its status, cancel it.

* ``meshy`` (3D): text-to-3D ``POST /openapi/v2/text-to-3d`` (preview mode) or, with a source
  image, image-to-3D ``POST /openapi/v1/image-to-3d``; ``GET``/``DELETE`` of the task. The task
  id we keep says which (``text-to-3d:<id>``). Artefacts: the asked formats of ``model_urls``
  (glb, usdz) and ``thumbnail_url``.
* ``luma`` (video): Luma Dream Machine ``POST /dream-machine/v1/generations`` (a source image
  is keyframe ``frame0``; ``callback_url`` when we have a public URL), ``GET``/``DELETE``.
  Artefacts: ``assets.video`` (MP4) and ``assets.image`` (the poster frame).

Why Luma for video: its public API creates, reads and deletes a generation by id, takes an
image as the first frame, answers with the MP4 *and* a poster image (the issue wants both),
and pushes state changes to a ``callback_url``. Runway's API (tasks with a progress fraction)
answers only video URLs and has no callbacks.

The HTTP call, retries and the breaker are ``core.providers``; answers are parsed into
pydantic models, so a provider answering garbage is a :class:`ProviderCallError`, never a
``KeyError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError

from assets.settings import AssetSettings
from core.providers import ProviderCallError, request_json

State = Literal["pending", "running", "succeeded", "failed", "canceled"]


@dataclass(frozen=True)
class Artefact:
    name: str  # our file's suffix: "model.glb", "preview.png", "video.mp4", "poster.png"
    url: str
    content_type: str


@dataclass
class TaskStatus:
    state: State
    progress: int | None = None
    artefacts: list[Artefact] = field(default_factory=list)
    error: str | None = None


class AssetProvider(Protocol):
    name: str
    kind: str  # model_3d | video

    def unavailable(self) -> str | None:
        """Why this provider cannot be used at all (no key), or None."""

    def create(
        self, prompt: str, options: dict[str, Any], image_url: str | None, callback: str | None
    ) -> str:
        """The provider's task id (as we keep it), or :class:`ProviderCallError`."""

    def status(self, task_id: str, options: dict[str, Any]) -> TaskStatus: ...

    def cancel(self, task_id: str) -> None: ...


def _parse(model: type[BaseModel], data: Any, what: str) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError:
        raise ProviderCallError(f"malformed {what}", retryable=False) from None


# --- Meshy -----------------------------------------------------------------------------------
class _MeshyCreated(BaseModel):
    model_config = ConfigDict(extra="ignore")
    result: str


class _MeshyError(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message: str | None = None


class _MeshyTask(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    status: Literal["PENDING", "IN_PROGRESS", "SUCCEEDED", "FAILED", "CANCELED", "EXPIRED"]
    progress: int = 0
    model_urls: dict[str, str] = {}
    thumbnail_url: str | None = None
    task_error: _MeshyError | None = None


MESHY_TYPES = {"glb": "model/gltf-binary", "usdz": "model/vnd.usdz+zip"}


@dataclass
class MeshyProvider:
    base_url: str
    api_key: str | None
    timeout: float
    name: str = "meshy"
    kind: str = "model_3d"

    def unavailable(self) -> str | None:
        return None if self.api_key else "no API key configured (MESHY_API_KEY)"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def _url(self, task_id: str) -> str:
        endpoint, _, raw = task_id.partition(":")
        version = "v2" if endpoint == "text-to-3d" else "v1"
        return f"{self.base_url.rstrip('/')}/openapi/{version}/{endpoint}/{raw}"

    def create(
        self, prompt: str, options: dict[str, Any], image_url: str | None, callback: str | None
    ) -> str:
        # Meshy's webhooks are set in its dashboard, not per task: ``callback`` is unused
        if image_url:
            endpoint, path = "image-to-3d", "/openapi/v1/image-to-3d"
            body: dict[str, Any] = {
                "image_url": image_url,
                "should_texture": True,
                "texture_prompt": prompt[:600],
            }
        else:
            endpoint, path = "text-to-3d", "/openapi/v2/text-to-3d"
            body = {
                "mode": "preview",
                "prompt": prompt[:600],
                "art_style": options.get("art_style", "realistic"),
                "should_remesh": True,
            }
        data = request_json(
            "POST", self.base_url.rstrip("/") + path, self._headers(), body, self.timeout
        )
        return f"{endpoint}:{_parse(_MeshyCreated, data, 'create answer').result}"

    def status(self, task_id: str, options: dict[str, Any]) -> TaskStatus:
        data = request_json("GET", self._url(task_id), self._headers(), None, self.timeout)
        task = _parse(_MeshyTask, data, "task")
        if task.status in ("PENDING", "IN_PROGRESS"):
            state: State = "pending" if task.status == "PENDING" else "running"
            return TaskStatus(state, max(0, min(100, task.progress)))
        if task.status in ("FAILED", "EXPIRED"):
            reason = (task.task_error.message if task.task_error else None) or task.status.lower()
            return TaskStatus("failed", error=f"Meshy: {reason[:300]}")
        if task.status == "CANCELED":
            return TaskStatus("canceled", error="Meshy canceled the task")
        artefacts = []
        for fmt in options.get("target_formats") or ["glb"]:
            url = task.model_urls.get(fmt)
            if not url:
                raise ProviderCallError(f"succeeded without a {fmt} model", retryable=False)
            artefacts.append(Artefact(f"model.{fmt}", url, MESHY_TYPES[fmt]))
        if task.thumbnail_url:
            artefacts.append(Artefact("preview.png", task.thumbnail_url, "image/png"))
        return TaskStatus("succeeded", 100, artefacts)

    def cancel(self, task_id: str) -> None:
        request_json("DELETE", self._url(task_id), self._headers(), None, self.timeout)


# --- Luma Dream Machine -------------------------------------------------------------------
class _LumaAssets(BaseModel):
    model_config = ConfigDict(extra="ignore")
    video: str | None = None
    image: str | None = None


class _LumaGeneration(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    state: Literal["queued", "dreaming", "completed", "failed"]
    failure_reason: str | None = None
    assets: _LumaAssets | None = None


@dataclass
class LumaProvider:
    base_url: str
    api_key: str | None
    model: str
    timeout: float
    name: str = "luma"
    kind: str = "video"

    def unavailable(self) -> str | None:
        return None if self.api_key else "no API key configured (LUMA_API_KEY)"

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}

    def _url(self, task_id: str = "") -> str:
        return f"{self.base_url.rstrip('/')}/dream-machine/v1/generations" + (
            f"/{task_id}" if task_id else ""
        )

    def create(
        self, prompt: str, options: dict[str, Any], image_url: str | None, callback: str | None
    ) -> str:
        body: dict[str, Any] = {
            "prompt": prompt,
            "model": self.model,
            "aspect_ratio": options.get("aspect_ratio", "16:9"),
            "duration": f"{options.get('duration_seconds', 5)}s",
            "loop": bool(options.get("loop", False)),
        }
        if image_url:
            body["keyframes"] = {"frame0": {"type": "image", "url": image_url}}
        if callback:
            body["callback_url"] = callback
        data = request_json("POST", self._url(), self._headers(), body, self.timeout)
        return _parse(_LumaGeneration, data, "generation").id

    def status(self, task_id: str, options: dict[str, Any]) -> TaskStatus:
        data = request_json("GET", self._url(task_id), self._headers(), None, self.timeout)
        gen = _parse(_LumaGeneration, data, "generation")
        if gen.state == "queued":
            return TaskStatus("pending")
        if gen.state == "dreaming":
            return TaskStatus("running")  # Luma does not say how far along it is
        if gen.state == "failed":
            return TaskStatus("failed", error=f"Luma: {(gen.failure_reason or 'failed')[:300]}")
        if not gen.assets or not gen.assets.video:
            raise ProviderCallError("completed without a video", retryable=False)
        artefacts = [Artefact("video.mp4", gen.assets.video, "video/mp4")]
        if gen.assets.image:
            artefacts.append(Artefact("poster.png", gen.assets.image, "image/png"))
        return TaskStatus("succeeded", 100, artefacts)

    def cancel(self, task_id: str) -> None:
        request_json("DELETE", self._url(task_id), self._headers(), None, self.timeout)


# --- the chains ----------------------------------------------------------------------------
def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value else None


def make_provider(settings: AssetSettings, name: str) -> AssetProvider:
    timeout = settings.provider_timeout_seconds
    if name == "meshy":
        return MeshyProvider(settings.meshy_base_url, _secret(settings.meshy_api_key), timeout)
    if name == "luma":
        return LumaProvider(
            settings.luma_base_url, _secret(settings.luma_api_key), settings.luma_model, timeout
        )
    raise ValueError(f"unknown asset provider {name!r}")


def build_chain(settings: AssetSettings, kind: str) -> list[AssetProvider]:
    """The providers of ``ASSET_3D_PROVIDERS`` / ``ASSET_VIDEO_PROVIDERS``, in order."""
    names = settings.asset_3d_providers if kind == "model_3d" else settings.asset_video_providers
    chain = [make_provider(settings, n.strip()) for n in names.split(",") if n.strip()]
    for provider in chain:
        if provider.kind != kind:
            raise ValueError(f"provider {provider.name!r} does not make {kind}")
    return chain
