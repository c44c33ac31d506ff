"""The sync worker's job handler: pull what changed at the provider into the project.

* GitHub: commits, pull requests, issues and releases of each linked repository become
  ``activity_events`` (idempotent on (source, external_id)). Incremental: ``since`` for
  commits and issues, newest-first paging that stops at the cursor for pulls and releases,
  and ``If-None-Match`` with the first page's ``ETag`` (a 304 costs no rate limit). Pages
  follow the ``Link`` header. Each page is written before the next is fetched; a resource's
  cursor moves only after all its pages are written, so a crash mid-sync loses nothing and
  the next run resumes from the cursor (rows already written are skipped).
* Google Docs: each linked document whose Drive version changed is exported as Markdown and
  added as a new version of its project document, with a change summary.

The owner must still be an editor of the project: the database checks it in each page's
writing transaction (rpc ingest_activity), and an owner who lost it has the integration
unlinked; the job then fails for good with that reason.

Provider failures: 401 -> one refresh, then the integration is marked for reconnection
(notification) and the job fails for good; 429/5xx/timeouts -> RetryableJobError (the queue
retries with its visibility timeout, then the DLQ), the integration's ``last_error`` says
why and, on the last attempt, its status becomes ``error``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core import log
from core.jobs import Job, PermanentJobError, RetryableJobError
from core.rest import as_service
from integrations import store
from integrations.config import IntegrationsSettings
from integrations.providers import GitHub, Google, Meter, ProviderError, call, next_link
from integrations.service import INTEGRATION_COLUMNS, version_summary
from integrations.store import ingest

RESOURCES = ("commits", "pulls", "issues", "releases")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _ts(value: str | None) -> str | None:
    return value.replace("Z", "+00:00") if value else None


# --- GitHub items -> activity rows ----------------------------------------------------------------
def _event(
    project_id: str,
    kind: str,
    key: str,
    when: str | None,
    actor: str | None,
    title: str,
    url: str | None,
    repo: str,
    integration_id: str,
) -> dict[str, Any]:
    return {
        "source": "github",
        "kind": kind,
        "occurred_at": _ts(when),
        "actor": actor,
        "external_id": f"{project_id}:{key}",
        "payload": {
            "title": title[:300],
            "url": url,
            "repository": repo,
            "integration_id": integration_id,
        },
    }


def github_events(
    resource: str, item: dict[str, Any], project_id: str, repo: str, integration_id: str
) -> tuple[list[dict[str, Any]], str | None]:
    """The activity rows for one item, and the item's cursor timestamp."""
    ctx = (repo, integration_id)
    login = (item.get("user") or item.get("author") or {}).get("login")
    if resource == "commits":
        commit = item.get("commit") or {}
        when = (commit.get("author") or {}).get("date")
        actor = login or (commit.get("author") or {}).get("name")
        title = (commit.get("message") or "").split("\n", 1)[0]
        return [
            _event(
                project_id,
                "commit",
                f"commit:{item['sha']}",
                when,
                actor,
                title,
                item.get("html_url"),
                *ctx,
            )
        ], when
    if resource == "releases":
        when = item.get("published_at") or item.get("created_at")
        if item.get("draft"):
            return [], when
        title = item.get("name") or item.get("tag_name") or "release"
        return [
            _event(
                project_id,
                "release.published",
                f"release:{item['id']}",
                when,
                login,
                title,
                item.get("html_url"),
                *ctx,
            )
        ], when
    if resource == "issues" and item.get("pull_request"):
        return [], item.get("updated_at")  # listed again under pulls
    noun = "pull_request" if resource == "pulls" else "issue"
    title = f"#{item.get('number')} {item.get('title') or ''}".strip()
    rows = [
        _event(
            project_id,
            f"{noun}.opened",
            f"{noun}:{item['id']}:opened",
            item.get("created_at"),
            login,
            title,
            item.get("html_url"),
            *ctx,
        )
    ]
    if item.get("merged_at"):
        rows.append(
            _event(
                project_id,
                f"{noun}.merged",
                f"{noun}:{item['id']}:merged",
                item["merged_at"],
                login,
                title,
                item.get("html_url"),
                *ctx,
            )
        )
    elif item.get("closed_at"):
        rows.append(
            _event(
                project_id,
                f"{noun}.closed",
                f"{noun}:{item['id']}:closed",
                item["closed_at"],
                login,
                title,
                item.get("html_url"),
                *ctx,
            )
        )
    return rows, item.get("updated_at")


class Syncer:
    """One sync run of one integration (a token, a meter, counts)."""

    def __init__(self, settings: IntegrationsSettings, integration: dict[str, Any]) -> None:
        self.settings = settings
        self.integration = integration
        self.meter = Meter()
        self.written = 0
        self._token: str | None = None
        self._refreshed = False

    def token(self) -> str:
        if self._token is None:
            self._token = store.fresh_access_token(self.settings, self.integration, self.meter)
        return self._token

    def get(self, url: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        """A GET with the current token; a 401 refreshes once and repeats."""
        try:
            return call(self.settings, "GET", url, token=self.token(), meter=self.meter, **kwargs)
        except ProviderError as exc:
            if exc.kind != "unauthorized" or self._refreshed:
                raise
            self._refreshed = True
            self._token = store.refresh(self.settings, self.integration, meter=self.meter)
            return call(self.settings, "GET", url, token=self._token, meter=self.meter, **kwargs)

    def save_cursor(self, link: dict[str, Any], cursor: dict[str, Any]) -> None:
        as_service(self.settings).update(
            "integration_links",
            {"id": f"eq.{link['id']}"},
            {"sync_cursor": cursor, "last_synced_at": _now()},
        )

    # -- GitHub ------------------------------------------------------------------------------
    def github_link(self, link: dict[str, Any]) -> None:
        gh = GitHub(self.settings)
        repo = link["external_id"]
        project_id = str(link["project_id"])
        integration_id = str(self.integration["id"])
        cursor = dict(link.get("sync_cursor") or {})
        for resource in RESOURCES:
            before = dict(cursor.get(resource) or {})
            since = before.get("since")
            params: dict[str, Any] | None = {"per_page": self.settings.sync_page_size}
            if resource in ("commits", "issues") and since:
                params["since"] = since
            if resource in ("pulls", "issues"):
                params["state"] = "all"
            if resource == "pulls":
                params.update(sort="updated", direction="desc")
            headers = {"Accept": "application/vnd.github+json"}
            if before.get("etag"):
                headers["If-None-Match"] = before["etag"]
            url: str | None = gh.api(f"/repos/{repo}/{resource}")
            first_etag: str | None = None
            newest = since
            while url:
                response = self.get(url, params=params, headers=headers)
                if response.status_code == 304:
                    break
                if first_etag is None:
                    first_etag = response.headers.get("etag")
                rows: list[dict[str, Any]] = []
                reached_cursor = False
                for item in response.json():
                    item_rows, stamp = github_events(
                        resource, item, project_id, repo, integration_id
                    )
                    stamp = _ts(stamp)
                    if since and stamp and stamp < since and resource in ("pulls", "releases"):
                        reached_cursor = True
                        continue
                    rows.extend(item_rows)
                    if stamp and (newest is None or stamp > newest):
                        newest = stamp
                if rows:
                    self.written += max(0, ingest(self.settings, integration_id, None, rows))
                url = None if reached_cursor else next_link(response)
                params = None  # the next link carries the query (httpx would replace it)
                headers.pop("If-None-Match", None)
            after = {"since": newest, "etag": first_etag or before.get("etag")}
            if after != before:
                cursor[resource] = after
                self.save_cursor(link, cursor)  # only now: every page of it is written

    # -- Google Docs -------------------------------------------------------------------------
    def google_link(self, link: dict[str, Any]) -> None:
        if link.get("document_id") is None:
            return  # its project document was deleted
        google = Google(self.settings)
        file_id = link["external_id"]
        meta = self.get(
            google.api(f"/drive/v3/files/{file_id}"),
            params={"fields": "id,name,mimeType,modifiedTime,version,webViewLink"},
        ).json()
        cursor = dict(link.get("sync_cursor") or {})
        if cursor.get("version") == str(meta.get("version")):
            return
        content = self.get(
            google.api(f"/drive/v3/files/{file_id}/export"), params={"mimeType": "text/markdown"}
        ).text
        store.import_document_version(
            self.settings,
            str(link["id"]),
            content,
            version_summary(meta, "Synced from Google Docs"),
        )
        self.written += 1
        self.save_cursor(
            link, {"version": str(meta.get("version")), "modified": meta.get("modifiedTime")}
        )


def run(settings: IntegrationsSettings, job: Job) -> dict[str, Any]:
    """The job handler: returns the columns written with status succeeded."""
    rest = as_service(settings)
    found = rest.select(
        "integrations", {"id": f"eq.{job.row['integration_id']}", "select": INTEGRATION_COLUMNS}
    )
    if not found or found[0]["status"] in ("revoked", "pending"):
        raise PermanentJobError("the integration is not connected")
    integration = found[0]
    if integration["project_id"] is None:
        # unlinked since the job was queued (its owner was removed or demoted: last_error says)
        raise PermanentJobError(
            integration.get("last_error") or "the integration is not linked to a project"
        )
    links = rest.select(
        "integration_links",
        {"integration_id": f"eq.{integration['id']}", "select": "*", "order": "created_at"},
    )
    rest.update(
        "integrations",
        {"id": f"eq.{integration['id']}", "status": "neq.error"},
        {"status": "syncing"},
    )
    syncer = Syncer(settings, integration)
    try:
        for link in links:
            if link["kind"] == "repository" and integration["provider"] == "github":
                syncer.github_link(link)
            elif link["kind"] == "document" and integration["provider"] == "google_docs":
                syncer.google_link(link)
    except store.UnlinkedError as exc:
        raise PermanentJobError(str(exc), fields=_stats(syncer)) from None
    except store.ReconnectNeededError:
        raise PermanentJobError(
            store.RECONNECT_MESSAGES[integration["provider"]], fields=_stats(syncer)
        ) from None
    except ProviderError as exc:
        if exc.kind == "unauthorized":
            store.mark_reconnect(settings, integration)
            raise PermanentJobError(
                store.RECONNECT_MESSAGES[integration["provider"]], fields=_stats(syncer)
            ) from None
        message = _describe(integration["provider"], exc)
        rest.update(
            "integrations",
            {"id": f"eq.{integration['id']}"},
            {"status": "error" if job.is_last_attempt else "connected", "last_error": message},
        )
        log.warning(
            "sync attempt failed",
            integration_id=integration["id"],
            kind=exc.kind,
            attempt=job.attempt,
            retry_after=exc.retry_after,
        )
        raise RetryableJobError(message, fields=_stats(syncer)) from None
    except Exception:
        # a bug or a database outage: the job pipeline retries it; the integration must not
        # stay "syncing"
        rest.update(
            "integrations",
            {"id": f"eq.{integration['id']}", "status": "eq.syncing"},
            {"status": "error" if job.is_last_attempt else "connected"},
        )
        raise
    rest.update(
        "integrations",
        {"id": f"eq.{integration['id']}"},
        {"status": "connected", "last_synced_at": _now(), "last_error": None},
    )
    return _stats(syncer)


def _stats(syncer: Syncer) -> dict[str, int]:
    return {"events_written": syncer.written, "provider_requests": syncer.meter.requests}


def _describe(provider: str, exc: ProviderError) -> str:
    name = {"github": "GitHub", "google_docs": "Google"}.get(provider, provider)
    if exc.kind == "rate_limited":
        wait = f" (retry after {int(exc.retry_after)} s)" if exc.retry_after else ""
        return f"{name} is rate limiting the sync{wait}; it will resume from where it stopped"
    return f"{name} is unavailable ({exc}); the sync will resume from where it stopped"
