# Parley: `make run` (embedded suite + demo) and `make test` (everything, both profiles).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt deploy/constraints.txt pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test bench chaos screenshots lint format up down clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt deploy/constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c deploy/constraints.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

run: install
	$(BIN)/parley run

test: install
	scripts/test.sh

bench: install
	scripts/with-servers.sh $(BIN)/python -m bench

# Services killed, the broker and the database restarted under steady traffic; prints the figures.
# CHAOS_ARGS go to `python -m tests.chaos` (e.g. --rounds 2 --rate 10).
chaos: install
	scripts/with-servers.sh $(BIN)/python -m tests.chaos $(CHAOS_ARGS)

# docs/console/*.png: the console's main pages from `parley run` in Debian's Chromium.
screenshots: install
	scripts/chromium.sh ensure
	$(BIN)/python -m tests.console.screenshots

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .

# The production shape under Docker Compose: builds the image, runs the one-shot topic and
# migration jobs, and returns once the four services and the console answer /readyz. Data volumes
# survive `down`.
up:
	docker compose up --detach --build --wait ingress router sender segmentation console

down:
	docker compose down --remove-orphans

clean:
	scripts/kafka.sh stop || true
	scripts/postgres.sh stop || true
	rm -rf .parley .run
