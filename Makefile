# Local stack and project tasks. The logic lives in devstack/ (python -m devstack --help).
# Two commands from a fresh clone: `make up`, `make test`.

PY       := .venv/bin/python
DEVSTACK := $(PY) -m devstack

.PHONY: up down status reset token migrate migration schema-diff test lint deps postgresql chromium invoke schedules-pause schedules-resume schedules-status package bench bench-smoke soak bench-functions bench-stall bench-documents bench-integrations bench-realtime bench-notify bench-assets types backup restore

up: deps ## start the stack in the background (idempotent)
	@$(DEVSTACK) up

down: deps ## stop everything
	@$(DEVSTACK) down

status: deps ## connection details, NAME="value" lines
	@$(DEVSTACK) status

reset: deps ## wipe local data, re-apply bootstrap and migrations
	@$(DEVSTACK) reset

token: deps ## make token EMAIL=alice@example.com
	@test -n "$(EMAIL)" || { echo "usage: make token EMAIL=alice@example.com" >&2; exit 2; }
	@$(DEVSTACK) token --email "$(EMAIL)"

migrate: deps ## apply pending migrations (local, or DB_URL=postgresql://...)
	@$(DEVSTACK) migrate $(if $(DB_URL),--db-url "$(DB_URL)") $(if $(INCLUDE_ALL),--include-all)

migration: deps ## make migration NAME=members_can_comment: supabase/schemas/ + policies/ -> a new migration
	@test -n "$(NAME)" || { echo "usage: make migration NAME=what_changed" >&2; exit 2; }
	@$(DEVSTACK) migration --name "$(NAME)"

schema-diff: deps ## how migrations/ and the declared schema differ (empty: in sync)
	@$(DEVSTACK) schema-diff

backup: deps ## pg_dump to the backup bucket (BACKUP_DIR=folder instead; BACKUP_RETENTION_DAYS=30; DB_URL=...)
	@$(DEVSTACK) backup $(if $(DB_URL),--db-url "$(DB_URL)") $(if $(BACKUP_DIR),--dir "$(BACKUP_DIR)") --retention-days $(or $(BACKUP_RETENTION_DAYS),30)

restore: deps ## make restore FILE=s3://bucket/db/<time>.dump [DB_URL=postgresql://.../new_db]
	@test -n "$(FILE)" || { echo "usage: make restore FILE=<backup> [DB_URL=<new database>]" >&2; exit 2; }
	@$(DEVSTACK) restore --file "$(FILE)" $(if $(DB_URL),--db-url "$(DB_URL)")

invoke: deps ## run a scheduled function now: make invoke FN=files-expire-pending-uploads
	@test -n "$(FN)" || { $(PY) -m devstack.events list; echo "usage: make invoke FN=<schedule>" >&2; exit 2; }
	@$(PY) -m devstack.events invoke "$(FN)"

schedules-pause: deps ## stop running serverless.yml's schedules locally (a still world)
	@$(PY) -m devstack.schedules pause

schedules-resume: deps ## run them again at their rates (test sessions hold their own pause)
	@$(PY) -m devstack.schedules resume

schedules-status: deps ## running or paused (and by whom), and the list
	@$(PY) -m devstack.schedules status && $(PY) -m devstack.schedules list

package: deps ## Lambda zip for manylinux2014_x86_64/3.12 + `serverless package` + cfn-lint (STAGE=prod)
	@$(PY) -m devstack.package_lambda --stage $(or $(STAGE),prod)

test: deps ## the whole suite against the real local stack (started or reused)
	.venv/bin/pytest $(PYTEST_ARGS)

bench: deps ## RLS cost at scale (seeds a separate `bench` database; BENCH_SCALE=0.1 for a quick run)
	$(PY) -m bench.run $(BENCH_ARGS)

bench-smoke: up ## every benchmark at a tiny scale (seconds each; what `make test` runs: tests/test_bench_smoke.py)
	$(PY) -m bench.smoke $(BENCH_ARGS)

soak: up ## a few minutes of a realistic mix through the gateway (locust; SOAK_SECONDS=180 SOAK_USERS=20) -> bench/README.md
	$(PY) -m bench.soak $(BENCH_ARGS)

bench-stall: up ## one user's 24 slow requests vs another user's latency, cap off and on (bench/README.md)
	$(PY) -m bench.stall $(BENCH_ARGS)

bench-functions: up package ## cold import per handler and upload-signing req/s (bench/README.md)
	$(PY) bench/functions_bench.py

bench-documents: up package ## generation jobs/s end to end, request->version p50/p95, cold imports
	$(PY) bench/documents_bench.py $(BENCH_ARGS)
bench-notify: up ## notifications -> delivered e-mail through the queue: deliveries/s, row->sent p50/p95, a burst counted in the inbox
	$(PY) bench/notify_bench.py $(BENCH_ARGS)
bench-realtime: up ## private joins, broadcast fan-out to 100 / 1,000 sockets, RLS-checked row changes (bench/README.md)
	$(PY) bench/realtime_bench.py $(BENCH_ARGS)
bench-assets: up ## asset jobs: request -> file p50/p95, burst jobs/s, provider outage fallback (bench/README.md)
	$(PY) bench/assets_bench.py $(BENCH_ARGS)
bench-integrations: up ## sync of 10,000 GitHub events, webhook req/s, cold imports (bench/README.md)
	$(PY) bench/integrations_bench.py $(BENCH_ARGS)

types: deps ## TypeScript types and Python models of the exposed schema -> types/ (stack up)
	@$(PY) -m tests.typegen

lint: deps
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

# ---- installs (idempotent; stamps re-run them when their inputs change) -----------------
deps: .venv/.installed node_modules/.installed postgresql chromium

# The stamp lives inside what it stands for: delete .venv or node_modules to reinstall.
.venv/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# PostgreSQL 15 from the OS packages (Debian 12's `postgresql`). The package's own
# cluster is not wanted: devstack makes one in .devstack/pgdata.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { \
	  echo "installing PostgreSQL from the OS packages" >&2; \
	  $(SUDO) mkdir -p /etc/postgresql-common && \
	  { test -e /etc/postgresql-common/createcluster.conf || \
	    echo "create_main_cluster = false" | $(SUDO) tee /etc/postgresql-common/createcluster.conf >/dev/null; } && \
	  $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql; }

# Chromium and its WebDriver from the OS packages (Debian 12's `chromium`, `chromium-driver`)
# for the example web page's browser test (tests/test_web_example.py); no browser download.
chromium:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
	  echo "installing Chromium and chromium-driver from the OS packages" >&2; \
	  $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }
