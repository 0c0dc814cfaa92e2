# Two entry points: `make run` (process a sample video end to end) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_BIN := /usr/lib/postgresql/15/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the pipeline and its tests need, checked by a file each one provides (the
# six from pocketsphinx-testdata on: recordings of real human speech, with their texts, for the
# transcription tests; pgbouncer: the transaction-mode pooler the functions are tested through;
# chromium: the browser the results page is tested in, as Playwright's own download cannot work).
APT_NEEDS := ffmpeg:/usr/bin/ffprobe postgresql-15:$(PG_BIN)/initdb \
  postgresql-15-cron:/usr/lib/postgresql/15/lib/pg_cron.so espeak-ng:/usr/bin/espeak-ng \
  postgresql-15-pgtap:/usr/share/postgresql/15/extension/pgtap.control \
  libtap-parser-sourcehandler-pgtap-perl:/usr/bin/pg_prove nodejs:/usr/bin/node npm:/usr/bin/npm \
  pocketsphinx-testdata:/usr/share/pocketsphinx/test/data/librivox/transcription \
  alsa-utils:/usr/share/sounds/alsa/Front_Center.wav \
  asterisk-core-sounds-fr:/usr/share/doc/asterisk-core-sounds-fr/core-sounds-fr.txt.gz \
  asterisk-core-sounds-fr-wav:/usr/share/asterisk/sounds/fr_CA_f_June/activated.wav \
  asterisk-core-sounds-es:/usr/share/doc/asterisk-core-sounds-es/core-sounds-es.txt.gz \
  asterisk-core-sounds-es-wav:/usr/share/asterisk/sounds/es_MX_f_Allison/agent-loggedoff.wav \
  pgbouncer:/usr/sbin/pgbouncer chromium:/usr/bin/chromium
# The container tools of the image tests (infra/images.py), without their recommendations:
# podman's would upgrade passwd and login, which stay at the installed version.
CONTAINER_NEEDS := podman:/usr/bin/podman mmdebstrap:/usr/bin/mmdebstrap runc:/usr/sbin/runc
# The npm tools, pinned by infra/node/package-lock.json and installed under .tools/: the real
# Supabase CLI (the platform package carries the binary; the `supabase` package's installer
# downloads from elsewhere), the type generator and checker, supabase-js and hls.js.
NODE_TOOLS := .tools/.installed

.PHONY: setup system-packages run check test lint types down clean

setup: system-packages $(VENV)/.installed $(NODE_TOOLS)

system-packages:
	@missing=""; for pair in $(APT_NEEDS); do \
	  pkg=$${pair%%:*}; bin=$${pair#*:}; [ -e "$$bin" ] || command -v "$${bin##*/}" >/dev/null || \
	    missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing system packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	@missing=""; for pair in $(CONTAINER_NEEDS); do \
	  pkg=$${pair%%:*}; bin=$${pair#*:}; [ -e "$$bin" ] || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing container tools:$$missing"; \
	  keep=$$(dpkg-query -W -f='$${Package}=$${Version} ' login passwd 2>/dev/null); \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
	    --no-install-recommends $$missing $$keep; \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

$(NODE_TOOLS): infra/node/package.json infra/node/package-lock.json
	mkdir -p .tools
	cp infra/node/package.json infra/node/package-lock.json .tools/
	npm ci --prefix .tools --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	$(BIN)/vidpipe sample .vidpipe/sample.mp4
	$(BIN)/vidpipe process .vidpipe/sample.mp4

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# A few minutes: lint, types, unit and integration tests (no whole-stack e2e runs).
check: lint
	$(BIN)/pytest -q tests/unit tests/integration

# Everything CI runs.
test: lint
	$(BIN)/pytest -q

# The TypeScript types of the database and of the JSON documents, into types/ (a test fails
# when the committed ones are stale).
types: setup
	$(BIN)/vidpipe types

down:
	-$(BIN)/vidpipe down

clean: down
	rm -rf .vidpipe
