# Everyday tasks; each target calls a script so the commands also work without make.
.PHONY: run test lint setup

run:  ## set up, load demo data, start web + Celery worker + beat (Ctrl-C stops all)
	scripts/run

test:  ## set up, run the suite on SQLite, and on PostgreSQL + Redis when reachable (required with CI=true)
	scripts/test

lint:  ## ruff lint and format check (config in pyproject.toml)
	scripts/setup --no-migrate
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

setup:  ## install system packages, .venv and requirements; migrate
	scripts/setup
