"""`vidpipe deploy --plan`: the Cloud Run recipe as commands, for one project and region, with
no secret in it and nothing called."""

from __future__ import annotations

import re
import shlex
import subprocess

import pytest

from infra.deploy import RESOURCES, SECRETS, PlanError, plan, service
from infra.images import IMAGES

ARGS = ("acme-video-prod", "europe-west1", "https://abcdefghijklmnopqrst.supabase.co", "0.1.0")


def deploys(script: str) -> dict[str, dict[str, str]]:
    """Each `gcloud run deploy` line's flags, by service."""
    found = {}
    for line in script.splitlines():
        if line.startswith("gcloud run deploy "):
            words = shlex.split(line)
            found[words[3]] = dict(w[2:].split("=", 1) for w in words[4:] if "=" in w)
    return found


def test_every_function_is_a_service_of_its_own_image_with_its_resources():
    script = plan(*ARGS)
    services = deploys(script)
    assert set(services) == {"vidpipe-" + f.replace("_", "-") for f in IMAGES}
    for function, r in RESOURCES.items():
        flags = services["vidpipe-" + function.replace("_", "-")]
        assert flags["cpu"] == str(r.cpu) and flags["memory"] == r.memory
        assert flags["concurrency"] == str(r.concurrency) and flags["timeout"] == "120"
        assert flags["image"].endswith(f"/vidpipe/vidpipe-{function.replace('_', '-')}:0.1.0")
        given = [f"{k}={v}:latest" for k, v in SECRETS.items() if function != "notify" or "SERVICE_ROLE" not in k]
        assert flags["set-secrets"].split(",") == given
        assert ("VIDPIPE_STORAGE_BACKEND" in flags.get("set-env-vars", "")) == (function != "notify")  # no file
        line = next(x for x in script.splitlines() if x.startswith(f"gcloud run deploy {service(function)} "))
        after = function != "ingest"  # they work on after answering 202: the long steps, and notify's sends
        assert ("--no-cpu-throttling" in line) == after
        slots = {"process": "1", "generate_metadata": "1", "notify": "8"}.get(function)
        assert (f"VIDPIPE_STEP_SLOTS={slots}" in flags.get("set-env-vars", "")) == after
    builds = [line for line in script.splitlines() if line.startswith("podman build")]
    assert len(builds) == 4 and all("BASE=docker.io/library/debian:bookworm-slim" in b for b in builds)
    assert "FUNCTION=generate_metadata --build-arg PACKAGES=ffmpeg --build-arg MODEL=whisper" in script


def test_the_plan_is_valid_shell_and_holds_no_secret_value():
    script = plan(*ARGS)
    assert subprocess.run(["bash", "-n"], input=script, text=True, check=False).returncode == 0
    assert not re.search(r"whsec_[A-Za-z0-9+/]{8}|eyJ[A-Za-z0-9]|postgresql://", script)
    assert "configure_delivery('pg_net'" in script and "'notify', :'notify_url'" in script


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("Acme; rm -rf /", *ARGS[1:]), "project id"),
        ((ARGS[0], "europe west1", *ARGS[2:]), "region"),
        ((*ARGS[:2], "http://10.0.0.1", ARGS[3]), "Supabase project URL"),
        ((*ARGS[:3], "$(id)"), "image tag"),
    ],
)
def test_bad_arguments_are_refused_before_anything_is_printed(args, says):
    with pytest.raises(PlanError, match=says):
        plan(*args)


def test_the_command_prints_the_plan_and_calls_nothing_without_it():
    from typer.testing import CliRunner

    from infra.cli import app

    options = ["--project", ARGS[0], "--region", ARGS[1], "--supabase-url", ARGS[2]]
    printed = CliRunner().invoke(app, ["deploy", "--plan", *options])
    assert printed.exit_code == 0 and printed.stdout == plan(*ARGS[:3], tag=ARGS[3])
    refused = CliRunner().invoke(app, ["deploy", *options])
    assert refused.exit_code == 2 and "--plan" in refused.output
    bad = CliRunner().invoke(app, ["deploy", "--plan", *options[:5], "nowhere"])
    assert bad.exit_code == 2 and "Supabase project URL" in bad.output


@pytest.mark.parametrize("which", range(4))
def test_a_trailing_newline_in_any_argument_is_refused(which):
    args = list(ARGS)
    args[which] += "\n"
    with pytest.raises(PlanError):
        plan(*args)


SECRET_VALUES = {
    "VIDPIPE_EVENT_SECRET": "whsec_c2VjcmV0LWV2ZW50LXNlY3JldC1mb3ItdGVzdHM=",
    "VIDPIPE_DATABASE_URL": "postgresql://postgres.ref:pooler-secret@pooler:6543/postgres",
    "VIDPIPE_SUPABASE_SERVICE_ROLE_KEY": "eyJservice-role-secret",
    "PGPASSWORD": "database-secret",
}
# Stand-ins that record how they were called: every argument, and what psql read and was given.
RECORDER = """#!/bin/bash
printf '%s\\n' "$(basename "$0") $*" >> "$CALLS"
case "$(basename "$0") $1 $2" in
  "gcloud run services") echo "https://$4-abc-ew.a.run.app" ;;
  psql*) cat > "$CALLS.sql"; env > "$CALLS.env" ;;
  "gcloud secrets create") cat >> "$CALLS.secrets"; echo >> "$CALLS.secrets" ;;
esac
"""


def run_plan(tmp_path, db_url: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("gcloud", "podman", "psql"):
        (bin_dir / tool).write_text(RECORDER)
        (bin_dir / tool).chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CALLS": str(tmp_path / "calls"), "SUPABASE_DB_URL": db_url}
    return subprocess.run(["bash", "-c", plan(*ARGS)], env={**env, **SECRET_VALUES}, text=True, capture_output=True)


def test_no_secret_is_ever_a_commands_argument(tmp_path):
    ran = run_plan(tmp_path, "postgresql://postgres@db.abcdefghijklmnopqrst.supabase.co:5432/postgres")
    assert ran.returncode == 0, ran.stderr
    calls = (tmp_path / "calls").read_text()
    assert calls.count("gcloud run deploy") == 4 and "psql -X -v ON_ERROR_STOP=1 postgresql://postgres@db." in calls
    for value in SECRET_VALUES.values():
        assert value not in calls
    # Secret Manager got each one on stdin; psql found the secret and the URLs in its environment.
    assert (tmp_path / "calls.secrets").read_text().split() == list(SECRET_VALUES.values())[:3]
    given = dict(line.split("=", 1) for line in (tmp_path / "calls.env").read_text().splitlines() if "=" in line)
    assert given["VIDPIPE_EVENT_SECRET"] == SECRET_VALUES["VIDPIPE_EVENT_SECRET"]
    assert given["NOTIFY_URL"] == "https://vidpipe-notify-abc-ew.a.run.app/"
    sql = (tmp_path / "calls.sql").read_text()
    assert "\\getenv event_secret VIDPIPE_EVENT_SECRET" in sql and ":'event_secret'" in sql


def test_a_database_url_with_its_password_stops_the_plan_before_psql(tmp_path):
    ran = run_plan(tmp_path, "postgresql://postgres:database-secret@db.abcdefghijklmnopqrst.supabase.co:5432/postgres")
    assert ran.returncode == 2 and "PGPASSWORD" in ran.stderr
    assert not (tmp_path / "calls").exists()
