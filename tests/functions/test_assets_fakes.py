"""The fake Meshy and fake Luma (devstack/fake_media.py): their wire formats, their switches,
and the artefacts they serve being valid files (devstack/media.py)."""

from __future__ import annotations

import io
import struct
import time
import uuid
import zipfile

import httpx
import pytest

from devstack import media
from tests.support import Stack

MESHY_AUTH = {"Authorization": "Bearer msy-test-key"}
LUMA_AUTH = {"Authorization": "Bearer luma-test-key"}


def _token() -> str:
    return f"tok{uuid.uuid4().hex[:12]}"


def _wait(get, until: set[str], key: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = get()
        if body[key] in until or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_glb_is_a_gltf_binary_with_a_json_and_a_bin_chunk():
    data = media.glb("chair")
    magic, version, length = struct.unpack("<4sII", data[:12])
    assert (magic, version, length) == (b"glTF", 2, len(data))
    json_len, json_type = struct.unpack("<I4s", data[12:20])
    assert json_type == b"JSON" and json_len % 4 == 0
    bin_len, bin_type = struct.unpack("<I4s", data[20 + json_len : 28 + json_len])
    assert bin_type == b"BIN\x00" and 28 + json_len + bin_len == len(data)


def test_mp4_png_and_usdz_are_well_formed():
    assert media.mp4_boxes(media.mp4()) == ["ftyp", "moov", "mdat"]
    assert media.png().startswith(b"\x89PNG\r\n\x1a\n") and media.png().endswith(b"IEND\xaeB`\x82")
    package = media.usdz()
    entry = zipfile.ZipFile(io.BytesIO(package)).infolist()[0]
    assert entry.filename.endswith(".usda") and entry.compress_type == zipfile.ZIP_STORED
    assert package.find(b"#usda") % 64 == 0  # USDZ: data 64-byte aligned


def test_meshy_text_to_3d_runs_to_succeeded_with_model_urls(stack: Stack):
    base = stack.env["MESHY_BASE_URL"]
    prompt = f"{_token()} a wooden chair"
    created = httpx.post(
        f"{base}/openapi/v2/text-to-3d",
        headers=MESHY_AUTH,
        json={"mode": "preview", "prompt": prompt, "art_style": "realistic"},
    )
    assert created.status_code in (200, 202)
    task_id = created.json()["result"]
    task = _wait(
        lambda: httpx.get(f"{base}/openapi/v2/text-to-3d/{task_id}", headers=MESHY_AUTH).json(),
        {"SUCCEEDED", "FAILED"},
        "status",
    )
    assert task["status"] == "SUCCEEDED" and task["progress"] == 100
    model = httpx.get(task["model_urls"]["glb"])
    assert model.headers["content-type"] == "model/gltf-binary"
    assert model.content[:4] == b"glTF"
    assert httpx.get(task["thumbnail_url"]).content.startswith(b"\x89PNG")


def test_meshy_refuses_without_a_key_and_rate_limits_on_switch(stack: Stack):
    base = stack.env["MESHY_BASE_URL"]
    token = _token()
    body = {"mode": "preview", "prompt": f"{token} lamp"}
    assert httpx.post(f"{base}/openapi/v2/text-to-3d", json=body).status_code == 401
    httpx.post(
        f"{base}/_fake/modes",
        json={"match": token, "mode": "rate_limit", "times": 1, "retry_after": 3},
    )
    limited = httpx.post(f"{base}/openapi/v2/text-to-3d", headers=MESHY_AUTH, json=body)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3"
    assert "message" in limited.json()
    again = httpx.post(f"{base}/openapi/v2/text-to-3d", headers=MESHY_AUTH, json=body)
    assert again.status_code in (200, 202)


def test_meshy_image_to_3d_fails_the_task_when_the_image_cannot_be_read(stack: Stack):
    base = stack.env["MESHY_BASE_URL"]
    created = httpx.post(
        f"{base}/openapi/v1/image-to-3d",
        headers=MESHY_AUTH,
        json={"image_url": f"{base}/_files/none/nothing.png"},
    )
    task_id = created.json()["result"]
    task = httpx.get(f"{base}/openapi/v1/image-to-3d/{task_id}", headers=MESHY_AUTH).json()
    assert task["status"] == "FAILED" and task["task_error"]["message"]


def test_meshy_delete_removes_the_task(stack: Stack):
    base = stack.env["MESHY_BASE_URL"]
    token = _token()
    httpx.post(f"{base}/_fake/modes", json={"match": token, "mode": "never_finish"})
    task_id = httpx.post(
        f"{base}/openapi/v2/text-to-3d",
        headers=MESHY_AUTH,
        json={"mode": "preview", "prompt": f"{token} x"},
    ).json()["result"]
    url = f"{base}/openapi/v2/text-to-3d/{task_id}"
    assert httpx.delete(url, headers=MESHY_AUTH).status_code == 200
    assert httpx.get(url, headers=MESHY_AUTH).status_code == 404


@pytest.mark.parametrize("mode", ["garbage"])
def test_meshy_garbage_switch_answers_a_body_that_is_not_json(stack: Stack, mode: str):
    base = stack.env["MESHY_BASE_URL"]
    token = _token()
    httpx.post(f"{base}/_fake/modes", json={"match": token, "mode": mode})
    task_id = httpx.post(
        f"{base}/openapi/v2/text-to-3d",
        headers=MESHY_AUTH,
        json={"mode": "preview", "prompt": f"{token} x"},
    ).json()["result"]
    answer = httpx.get(f"{base}/openapi/v2/text-to-3d/{task_id}", headers=MESHY_AUTH)
    with pytest.raises(ValueError):
        answer.json()


def test_luma_generation_completes_with_a_video_and_a_poster(stack: Stack):
    base = stack.env["LUMA_BASE_URL"]
    prompt = f"{_token()} a drone shot over a workshop"
    created = httpx.post(
        f"{base}/dream-machine/v1/generations",
        headers=LUMA_AUTH,
        json={"prompt": prompt, "model": "ray-2", "aspect_ratio": "16:9", "duration": "5s"},
    )
    assert created.status_code == 201 and created.json()["state"] == "queued"
    gen_id = created.json()["id"]
    gen = _wait(
        lambda: httpx.get(
            f"{base}/dream-machine/v1/generations/{gen_id}", headers=LUMA_AUTH
        ).json(),
        {"completed", "failed"},
        "state",
    )
    assert gen["state"] == "completed"
    video = httpx.get(gen["assets"]["video"])
    assert video.headers["content-type"] == "video/mp4"
    assert media.mp4_boxes(video.content) == ["ftyp", "moov", "mdat"]
    assert httpx.get(gen["assets"]["image"]).content.startswith(b"\x89PNG")
    assert (
        httpx.delete(f"{base}/dream-machine/v1/generations/{gen_id}", headers=LUMA_AUTH).status_code
        == 204
    )


def test_luma_refuses_bad_duration_and_server_errors_on_switch(stack: Stack):
    base = stack.env["LUMA_BASE_URL"]
    token = _token()
    bad = httpx.post(
        f"{base}/dream-machine/v1/generations",
        headers=LUMA_AUTH,
        json={"prompt": f"{token} x", "duration": "60s"},
    )
    assert bad.status_code == 400 and "detail" in bad.json()
    httpx.post(f"{base}/_fake/modes", json={"match": token, "mode": "server_error", "times": 1})
    failed = httpx.post(
        f"{base}/dream-machine/v1/generations", headers=LUMA_AUTH, json={"prompt": f"{token} x"}
    )
    assert failed.status_code == 500
