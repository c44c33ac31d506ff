"""Asset generation (3D models, videos) over the real stack.

End to end: POST /functions/v1/assets/generate through the gateway with real JWTs, the job
on the local SQS queue, the worker in the event host creating the task at the fake Meshy /
fake Luma (devstack/fake_media.py); the poller (a schedule) is run in this process, and Luma's
callback_url reaches the gateway's webhook by itself. Each test puts its own token in its
prompt, so the fakes' failure switches are the test's own.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from devstack import media
from tests.functions.conftest import (
    Team,
    post_to_s3,
    s3_client,
    sign_upload,
    upload_request,
    wait_for_status,
)
from tests.support import Stack


def generate(stack: Stack, token: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    with stack.http(token) as http:
        return http.post("/functions/v1/assets/generate", json=body, headers=headers)


def job_row(stack: Stack, job_id: str) -> dict[str, Any]:
    return stack.sql("select * from public.asset_jobs where id = %s", (job_id,))[0]


def tag() -> str:
    return f"tok{uuid.uuid4().hex[:12]}"


def switch(stack: Stack, base: str, match: str, mode: str, **options: Any) -> None:
    url = stack.env["MESHY_BASE_URL" if base == "meshy" else "LUMA_BASE_URL"]
    httpx.post(
        f"{url}/_fake/modes", json={"match": match, "mode": mode, **options}
    ).raise_for_status()


def fake_tasks(stack: Stack, base: str, match: str) -> list[dict[str, Any]]:
    url = stack.env["MESHY_BASE_URL" if base == "meshy" else "LUMA_BASE_URL"]
    return httpx.get(f"{url}/_fake/tasks", params={"match": match}).json()


@pytest.fixture
def asset_settings(functions_env: dict[str, str]) -> Callable[..., Any]:
    from assets.settings import build_asset_settings

    return build_asset_settings


def wait_for(
    stack: Stack,
    job_id: str,
    statuses: tuple[str, ...],
    advance: Callable[[], Any] | None = None,
    attempts: int = 160,
) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for _ in range(attempts):
        row = job_row(stack, job_id)
        if row["status"] in statuses:
            return row
        if advance is not None and row["status"] == "processing":
            advance()
        time.sleep(0.25)
    raise AssertionError(f"asset job {job_id} never reached {statuses}: {row}")


def advancer(stack: Stack, asset_settings: Callable[..., Any], job_id: str) -> Callable[[], Any]:
    """What the every-minute poller does for this one job (as if a minute had passed)."""
    from assets.service import advance

    settings = asset_settings()

    def run() -> Any:
        stack.sql("update public.asset_jobs set polled_at = null where id = %s", (job_id,))
        return advance(settings, job_id)

    return run


def ready_image(stack: Stack, team: Team, data: bytes, content_type: str, name: str) -> str:
    editor = team.members["editor"]
    body = upload_request(team.project_id, data, name=name, content_type=content_type)
    signed = sign_upload(stack, editor, body)
    assert signed.status_code == 201, signed.text
    post_to_s3(signed.json()["upload"], data, content_type).raise_for_status()
    file_id = signed.json()["file"]["id"]
    assert wait_for_status(stack, file_id)["status"] == "ready"
    return file_id


# --- end to end ------------------------------------------------------------------------------
def test_an_editor_generates_a_3d_model_that_becomes_project_files(
    stack: Stack, team: Team, asset_settings: Callable[..., Any]
):
    editor, viewer = team.members["editor"], team.members["viewer"]
    prompt = f"{tag()} a wooden chair with curved legs"
    answer = generate(
        stack,
        editor.token,
        {
            "project_id": team.project_id,
            "kind": "model_3d",
            "prompt": prompt,
            "options": {"target_formats": ["glb", "usdz"]},
        },
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "queued"
    job_id = answer.json()["job_id"]
    job = wait_for(stack, job_id, ("succeeded", "failed"), advancer(stack, asset_settings, job_id))
    assert job["status"] == "succeeded", job
    assert (job["provider"], job["progress"], job["attempts"], job["error"]) == (
        "meshy",
        100,
        1,
        None,
    )
    assert [p["outcome"] for p in job["providers"]] == ["used"]
    files = stack.sql(
        "select * from public.files where id = any(%s) order by name", (job["file_ids"],)
    )
    assert {(f["folder"], f["mime_type"], f["status"]) for f in files} == {
        ("/generated", "model/gltf-binary", "ready"),
        ("/generated", "model/vnd.usdz+zip", "ready"),
        ("/generated", "image/png", "ready"),
    }
    assert all(str(f["uploaded_by"]) == editor.id for f in files)
    # the provider's URLs never reach a client: not on the job, not on the files
    assert "http" not in str({k: v for k, v in job.items() if k != "prompt"})
    # a member downloads the model through the files function, from our bucket
    glb = next(f for f in files if f["mime_type"] == "model/gltf-binary")
    with stack.http(viewer.token) as http:
        link = http.get(f"/functions/v1/files/{glb['id']}/download")
    assert link.status_code == 200, link.text
    data = httpx.get(link.json()["url"]).content
    assert data[:4] == b"glTF" and len(data) == glb["size_bytes"]
    assert hashlib.sha256(data).hexdigest() == glb["checksum_sha256"]
    assert stack.env["MESHY_BASE_URL"] not in link.json()["url"]
    # members read the job through RLS
    rows = stack.rest(viewer.token).table("asset_jobs").select("status").eq("id", job_id)
    assert rows.execute().data == [{"status": "succeeded"}]


def test_a_video_is_finished_by_lumas_callback_with_its_poster(stack: Stack, team: Team):
    editor = team.members["editor"]
    answer = generate(
        stack,
        editor.token,
        {
            "project_id": team.project_id,
            "kind": "video",
            "prompt": f"{tag()} a slow drone shot over a workshop",
            "options": {"duration_seconds": 5, "aspect_ratio": "9:16"},
        },
    )
    assert answer.status_code == 202, answer.text
    job = wait_for(stack, answer.json()["job_id"], ("succeeded", "failed"))  # no poller
    assert job["status"] == "succeeded", job
    assert job["provider"] == "luma" and job["progress"] == 100
    files = stack.sql("select * from public.files where id = any(%s)", (job["file_ids"],))
    assert sorted(f["mime_type"] for f in files) == ["image/png", "video/mp4"]
    [video] = [f for f in files if f["mime_type"] == "video/mp4"]
    body = s3_client(stack.env).get_object(Bucket=video["bucket"], Key=video["object_key"])
    assert media.mp4_boxes(body["Body"].read()) == ["ftyp", "moov", "mdat"]
    [task] = fake_tasks(stack, "luma", job["prompt"][:15])
    assert (task["body"]["aspect_ratio"], task["body"]["duration"]) == ("9:16", "5s")


def test_a_source_image_makes_an_image_to_3d_task(
    stack: Stack, team: Team, asset_settings: Callable[..., Any]
):
    image = ready_image(stack, team, media.png(), "image/png", "sketch.png")
    token = tag()
    answer = generate(
        stack,
        team.members["editor"].token,
        {
            "project_id": team.project_id,
            "kind": "model_3d",
            "prompt": f"{token} this lamp",
            "options": {"source_file_id": image},
        },
    )
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["job_id"]
    job = wait_for(stack, job_id, ("succeeded", "failed"), advancer(stack, asset_settings, job_id))
    assert job["status"] == "succeeded", job
    assert job["provider_task_id"].startswith("image-to-3d:")
    [task] = fake_tasks(stack, "meshy", token)
    assert task["kind"] == "image-to-3d" and task["phase"] == "succeeded"


# --- who may -----------------------------------------------------------------------------------
def test_viewers_get_403_and_outsiders_404_and_no_job_is_made(stack: Stack, team: Team):
    body = {"project_id": team.project_id, "kind": "video", "prompt": "a short clip"}
    viewer = generate(stack, team.members["viewer"].token, body)
    assert viewer.status_code == 403 and viewer.json()["error"] == "forbidden"
    outsider = generate(stack, team.outsider.token, body)
    assert outsider.status_code == 404
    assert set(outsider.json()) == {"error", "message", "request_id"}
    anon = stack.http()  # the shared client: not closed here
    assert anon.post("/functions/v1/assets/generate", json=body).status_code == 401
    assert not stack.sql(
        "select 1 from public.asset_jobs where project_id = %s", (team.project_id,)
    )


def test_outsiders_do_not_read_asset_jobs(stack: Stack, team: Team):
    answer = generate(
        stack,
        team.members["editor"].token,
        {"project_id": team.project_id, "kind": "video", "prompt": f"{tag()} a clip"},
    )
    job_id = answer.json()["job_id"]
    rows = stack.rest(team.outsider.token).table("asset_jobs").select("id").eq("id", job_id)
    assert rows.execute().data == []


# --- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "change, status, names",
    [
        ({"kind": "audio"}, 422, "kind"),
        ({"prompt": "hi"}, 422, "prompt"),
        ({"prompt": "   x   "}, 422, "prompt"),
        ({"prompt": "x" * 601}, 422, "prompt"),
        ({"options": {"colour": "red"}}, 422, "options.colour"),
        ({"options": {"target_formats": ["fbx"]}}, 422, "options.target_formats"),
        ({"options": {"target_formats": ["glb", "glb"]}}, 422, "target_formats"),
        ({"options": {"duration_seconds": 5}}, 422, "options.duration_seconds"),
        ({"options": {"source_file_id": "nope"}}, 422, "options.source_file_id"),
        ({"idempotency_key": "has space"}, 422, "idempotency_key"),
        ({"extra": 1}, 422, "extra"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(
    stack: Stack, team: Team, change: dict[str, Any], status: int, names: str
):
    body = {"project_id": team.project_id, "kind": "model_3d", "prompt": "a chair", **change}
    answer = generate(stack, team.members["editor"].token, body)
    assert answer.status_code == status, answer.text
    assert names in answer.json()["message"]


def test_a_body_that_is_not_json_is_400(stack: Stack, team: Team):
    with stack.http(team.members["editor"].token) as http:
        answer = http.post(
            "/functions/v1/assets/generate",
            content=b"{nope",
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_json"


def test_a_source_that_is_not_an_image_or_not_the_callers_is_refused(stack: Stack, team: Team):
    editor = team.members["editor"]
    text = ready_image(stack, team, b"just words\n", "text/plain", "notes.txt")
    body = {
        "project_id": team.project_id,
        "kind": "model_3d",
        "prompt": "a chair",
        "options": {"source_file_id": text},
    }
    answer = generate(stack, editor.token, body)
    assert answer.status_code == 422 and "PNG, JPEG or WebP" in answer.json()["message"]
    # an image of a project the caller is not in reads as no such file
    other = Team.__new__(Team)
    other_owner = stack.new_user()
    other_project = (
        stack.rest(other_owner.token)
        .table("projects")
        .insert({"name": "elsewhere"})
        .execute()
        .data[0]["id"]
    )
    other.project_id, other.members, other.outsider = other_project, {"editor": other_owner}, editor
    foreign = ready_image(stack, other, media.png(), "image/png", "theirs.png")
    body["options"] = {"source_file_id": foreign}
    answer = generate(stack, editor.token, body)
    assert answer.status_code == 422 and "no such file" in answer.json()["message"]
    assert not stack.sql(
        "select 1 from public.asset_jobs where project_id = %s", (team.project_id,)
    )


# --- idempotency, quotas ---------------------------------------------------------------------
def test_a_repeated_idempotency_key_returns_the_same_job(stack: Stack, team: Team):
    editor = team.members["editor"]
    key = f"key-{uuid.uuid4()}"
    body = {"project_id": team.project_id, "kind": "video", "prompt": f"{tag()} a clip"}
    first = generate(stack, editor.token, {**body, "idempotency_key": key})
    again = generate(stack, editor.token, body, **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 202
    assert first.json()["job_id"] == again.json()["job_id"]
    assert len(stack.sql("select 1 from public.asset_jobs where idempotency_key = %s", (key,))) == 1
    # another person's same key is their own job
    other = generate(stack, team.members["admin"].token, {**body, "idempotency_key": key})
    assert other.json()["job_id"] != first.json()["job_id"]
    clash = generate(
        stack, editor.token, {**body, "idempotency_key": key}, **{"Idempotency-Key": "other"}
    )
    assert clash.status_code == 422


def test_the_daily_quota_answers_429_with_retry_after(stack: Stack, team: Team):
    editor = team.members["editor"]
    stack.sql(
        "insert into public.asset_jobs (project_id, requested_by, kind, prompt, status)"
        " select %s, %s, 'video', 'an old clip', 'succeeded' from generate_series(1, 20)",
        (team.project_id, editor.id),
    )
    answer = generate(
        stack,
        editor.token,
        {"project_id": team.project_id, "kind": "video", "prompt": "one more clip"},
    )
    assert answer.status_code == 429, answer.text
    assert 80_000 < int(answer.headers["Retry-After"]) <= 86_400
    assert "per user a day" in answer.json()["message"]
    # the admin still has a quota of their own
    admin = generate(
        stack,
        team.members["admin"].token,
        {"project_id": team.project_id, "kind": "video", "prompt": "a clip"},
    )
    assert admin.status_code == 202


# --- cancel ---------------------------------------------------------------------------------
def test_the_requester_cancels_and_the_providers_task_is_deleted(stack: Stack, team: Team):
    token = tag()
    switch(stack, "meshy", token, "never_finish")
    editor = team.members["editor"]
    answer = generate(
        stack,
        editor.token,
        {"project_id": team.project_id, "kind": "model_3d", "prompt": f"{token} a table"},
    )
    job_id = answer.json()["job_id"]
    wait_for(stack, job_id, ("processing",))
    path = f"/functions/v1/assets/jobs/{job_id}/cancel"
    with stack.http(team.members["viewer"].token) as http:
        assert http.post(path).status_code == 403
    with stack.http(team.outsider.token) as http:
        assert http.post(path).status_code == 404
    with stack.http(editor.token) as http:
        done = http.post(path)
        assert done.status_code == 200 and done.json()["status"] == "canceled"
        assert http.post(f"/functions/v1/assets/jobs/{uuid.uuid4()}/cancel").status_code == 404
        assert http.post("/functions/v1/assets/jobs/nope/cancel").status_code == 422
    assert job_row(stack, job_id)["status"] == "canceled"
    [task] = fake_tasks(stack, "meshy", token)
    assert task["deleted"] is True


# --- providers failing ------------------------------------------------------------------------
def _model_job(stack: Stack, team: Team, prompt: str) -> str:
    answer = generate(
        stack,
        team.members["editor"].token,
        {"project_id": team.project_id, "kind": "model_3d", "prompt": prompt},
    )
    assert answer.status_code == 202, answer.text
    return answer.json()["job_id"]


def test_an_artefact_over_the_file_limit_fails_the_job_and_stores_nothing(
    stack: Stack, team: Team, asset_settings: Callable[..., Any]
):
    token = tag()
    switch(stack, "meshy", token, "oversize")
    job_id = _model_job(stack, team, f"{token} a huge statue")
    job = wait_for(stack, job_id, ("succeeded", "failed"), advancer(stack, asset_settings, job_id))
    assert job["status"] == "failed"
    assert "over the file limit" in job["error"] and "nothing was stored" in job["error"]
    assert job["file_ids"] == []
    assert not stack.sql(
        "select 1 from public.files where project_id = %s and folder = '/generated'",
        (team.project_id,),
    )


@pytest.mark.parametrize(
    "mode, reason",
    [("garbage", "malformed"), ("incomplete", "without a glb"), ("fail", "Meshy: ")],
)
def test_a_provider_answering_garbage_or_failing_fails_the_job_clearly(
    stack: Stack, team: Team, asset_settings: Callable[..., Any], mode: str, reason: str
):
    token = tag()
    switch(stack, "meshy", token, mode)
    job_id = _model_job(stack, team, f"{token} a broken vase")
    job = wait_for(stack, job_id, ("succeeded", "failed"), advancer(stack, asset_settings, job_id))
    assert job["status"] == "failed", job
    assert reason in job["error"]
    assert job["providers"][-1]["phase"] == "task"
    assert job["providers"][-1]["outcome"] == "failed"


def test_a_task_that_never_finishes_times_out_and_is_cancelled(
    stack: Stack, team: Team, asset_settings: Callable[..., Any]
):
    from assets.service import advance

    token = tag()
    switch(stack, "meshy", token, "never_finish")
    job_id = _model_job(stack, team, f"{token} an endless spiral")
    wait_for(stack, job_id, ("processing",))
    settings = asset_settings(asset_task_timeout_seconds=60)
    assert advance(settings, job_id) == "waiting"
    later = datetime.now(UTC) + timedelta(minutes=5)
    assert advance(settings, job_id, now=later) == "failed"
    job = job_row(stack, job_id)
    assert job["status"] == "failed" and "did not finish within 60 s" in job["error"]
    assert fake_tasks(stack, "meshy", token)[0]["deleted"] is True


def test_rate_limited_creates_are_retried_after_retry_after(stack: Stack, team: Team):
    token = tag()
    switch(stack, "luma", token, "rate_limit", times=1, retry_after=1)
    answer = generate(
        stack,
        team.members["editor"].token,
        {"project_id": team.project_id, "kind": "video", "prompt": f"{token} a quick clip"},
    )
    job = wait_for(stack, answer.json()["job_id"], ("succeeded", "failed"))
    assert job["status"] == "succeeded", job
    [entry] = job["providers"]
    assert entry["outcome"] == "used" and entry["retries"][0]["reason"] == "rate limited (429)"
    assert entry["retries"][0]["waited_s"] >= 1


def test_the_chain_falls_back_to_the_next_provider_and_records_it(
    stack: Stack, team: Team, asset_settings: Callable[..., Any]
):
    """Two Meshy accounts as the chain: the first is rate limited past the wait budget, so
    the second takes the task; the job says so."""
    from assets import ASSET_JOBS
    from assets.providers import MeshyProvider
    from assets.service import submit
    from core.jobs import Job

    token = tag()
    switch(stack, "meshy", token, "rate_limit", times=1, retry_after=999)
    settings = asset_settings()
    base = stack.env["MESHY_BASE_URL"]
    chain = [
        MeshyProvider(base, "msy-first", 5.0, name=f"meshy-a-{token}"),
        MeshyProvider(base, "msy-second", 5.0, name=f"meshy-b-{token}"),
    ]
    job_id = str(
        stack.sql(
            "insert into public.asset_jobs (project_id, requested_by, kind, prompt, status,"
            " attempts) values (%s, %s, 'model_3d', %s, 'submitting', 1) returning id",
            (team.project_id, team.members["editor"].id, f"{token} a stool"),
        )[0]["id"]
    )
    row = job_row(stack, job_id)
    result = submit(Job(ASSET_JOBS, job_id, {**row, "id": job_id}, 1, settings), chain=chain)
    outcomes = [(p["provider"].split("-")[1], p["outcome"]) for p in result["providers"]]
    assert outcomes == [("a", "failed"), ("b", "used")]
    assert "budget" in result["providers"][0]["reason"]
    assert result["provider"] == f"meshy-b-{token}"


# --- webhooks --------------------------------------------------------------------------------
def test_webhooks_need_the_token_and_only_make_us_look_again(stack: Stack, team: Team):
    token = tag()
    job_id = _model_job(stack, team, f"{token} a bench")
    job = wait_for(stack, job_id, ("processing",))
    raw_id = job["provider_task_id"].split(":", 1)[1]
    secret = stack.env["ASSET_WEBHOOK_TOKEN"]
    with stack.http(headers={"X-Test": "webhook"}) as http:  # no token: the provider's call
        url = "/functions/v1/assets/webhooks/meshy"
        assert http.post(url, json={"id": raw_id}).status_code == 401
        assert http.post(url + "?token=wrong", json={"id": raw_id}).status_code == 401
        assert http.post(url + f"?token={secret}", content=b"nope").status_code == 400
        assert http.post(url + f"?token={secret}", json=[1]).status_code == 400
        assert http.post("/functions/v1/assets/webhooks/other?token=x", json={}).status_code == 404
        unknown = http.post(url + f"?token={secret}", json={"id": str(uuid.uuid4())})
        assert unknown.status_code == 200 and unknown.json() == {"known": False}
        # a forged "SUCCEEDED" body changes nothing by itself: the task is read again
        time.sleep(1.5)
        forged = {"id": raw_id, "status": "SUCCEEDED", "model_urls": {"glb": "http://evil"}}
        answer = http.post(url + f"?token={secret}", json=forged)
    assert answer.status_code == 200 and answer.json() == {"known": True}
    job = job_row(stack, job_id)
    assert job["status"] == "succeeded", job
    files = stack.sql("select name from public.files where id = any(%s)", (job["file_ids"],))
    assert files and all("evil" not in f["name"] for f in files)
