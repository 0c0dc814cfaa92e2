"""The deploy recipe for Google Cloud Run, as the exact commands for one project and region.

`vidpipe deploy --plan` prints them and calls no cloud: a person (or a CI job) runs them. Each
function is its own Cloud Run service, from its own image (infra/images/Containerfile, the
public Debian base), with the resources measured by bench/images.py. Secrets come from Secret
Manager; the plan names shell variables for them and never holds a value. The last step feeds
the services' URLs back to the database (`configure_delivery`), which then sends the events
through pg_net.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from infra.images import IMAGES, PUBLIC_BASE

# Matched whole (fullmatch): `$` alone also matches before a trailing newline, which would split
# the printed script's commands.
PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
REGION = re.compile(r"[a-z]+-[a-z]+[0-9]")
SUPABASE_URL = re.compile(r"https://[a-z0-9]{20}\.supabase\.co")
IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
# The carriers wait for an answer at most delivery_settings.timeout_ms (60 s): ingest reads an
# upload by ranges, and the long steps and notify answer at once (202) and work on after. A request
# is cut off a little after its carrier stopped waiting.
REQUEST_TIMEOUT_SECONDS = 120


@dataclass(frozen=True)
class Resources:
    """What one function's Cloud Run service is given (bench/images.py has the measurements)."""

    cpu: int
    memory: str
    concurrency: int  # requests one instance serves at once
    max_instances: int
    min_instances: int = 0
    why: str = ""
    # For a function that works on after its answer (shared/function_door.serve_step): how many
    # such pieces of work one instance takes at once (VIDPIPE_STEP_SLOTS).
    slots_after_answer: int | None = None


RESOURCES = {  # cpu, memory, concurrency, max instances
    "ingest": Resources(1, "512Mi", 4, 20, why="a probe and one frame's decode: 0.5 CPU s and under 100 MB per upload"),
    "process": Resources(
        2,
        "4Gi",
        1,
        20,
        why="one ffmpeg run on both cores (65 CPU s, 40 s for 2 min of 1080p); its files are in memory",
        slots_after_answer=1,
    ),
    "generate_metadata": Resources(
        2,
        "2Gi",
        1,
        10,
        why="Whisper base in memory and decoding on both cores (7 CPU s, 360-390 MB for 2 min)",
        slots_after_answer=1,
    ),
    "notify": Resources(
        1, "512Mi", 8, 10, why="signed HTTP sends, mostly waiting on the network (55 MB)", slots_after_answer=8
    ),
}
# notify sends webhooks from the database's rows alone: it touches no file.
STORAGE_USERS = ("ingest", "process", "generate_metadata")
# The functions that work on after their answer (slots_after_answer: the long steps, and notify,
# which waits on customers' endpoints): their CPU must stay allocated once the request is done
# (instance-based billing, --no-cpu-throttling). A long step's instance takes one step at a time,
# its ffmpeg or Whisper run on all its cores. Cloud Run scales such a service on CPU use as well
# as on requests, so a busy instance brings up another; one stopped mid-work (a scale-in, a
# redeploy) stops renewing its lease or claim, and the sweeper hands the work to another run.
SECRETS = {  # environment variable -> Secret Manager secret
    "VIDPIPE_EVENT_SECRET": "vidpipe-event-secret",
    "VIDPIPE_DATABASE_URL": "vidpipe-database-url",
    "VIDPIPE_SUPABASE_SERVICE_ROLE_KEY": "vidpipe-supabase-service-role-key",
}


class PlanError(ValueError):
    pass


def service(function: str) -> str:
    return "vidpipe-" + function.replace("_", "-")


def plan(project: str, region: str, supabase_url: str, tag: str) -> str:
    """The commands, in order, as a shell script."""
    if not PROJECT_ID.fullmatch(project):
        raise PlanError(f"{project!r} is not a Google Cloud project id (6-30 lower-case letters, digits, hyphens)")
    if not REGION.fullmatch(region):
        raise PlanError(f"{region!r} is not a Cloud Run region (such as europe-west1)")
    if not SUPABASE_URL.fullmatch(supabase_url):
        raise PlanError(f"{supabase_url!r} is not a Supabase project URL (https://<ref>.supabase.co)")
    if not IMAGE_TAG.fullmatch(tag):
        raise PlanError(f"{tag!r} is not an image tag")
    registry = f"{region}-docker.pkg.dev/{project}/vidpipe"
    account = f"vidpipe-functions@{project}.iam.gserviceaccount.com"
    q = shlex.quote
    lines = [
        "#!/usr/bin/env bash",
        f"# vidpipe on Cloud Run: project {project}, region {region}, images tagged {tag}.",
        "# Run from the repository's root, with gcloud signed in and podman (or docker) at hand.",
        "# The secrets are read from the environment and go straight to Secret Manager:",
        "#   VIDPIPE_EVENT_SECRET               a whsec_ secret (python -c 'from shared.signing",
        "#                                      import new_secret; print(new_secret())')",
        "#   VIDPIPE_DATABASE_URL               Supavisor's transaction-mode URL (port 6543)",
        "#   VIDPIPE_SUPABASE_SERVICE_ROLE_KEY  the project's service_role key",
        "#   SUPABASE_DB_URL                    the direct URL (port 5432) without its password, and",
        "#   PGPASSWORD                         the database password, for the last step (psql 15 or later)",
        "# No secret is ever a command's argument, where other users of the machine would see it.",
        "set -euo pipefail",
        ': "${VIDPIPE_EVENT_SECRET:?}" "${VIDPIPE_DATABASE_URL:?}" "${VIDPIPE_SUPABASE_SERVICE_ROLE_KEY:?}"',
        ': "${SUPABASE_DB_URL:?}" "${PGPASSWORD:?}"',
        'case "$SUPABASE_DB_URL" in *://*:*@*)',
        '  echo "SUPABASE_DB_URL holds a password: put it in PGPASSWORD instead" >&2; exit 2;; esac',
        "",
        "# 1. The project's services, a registry for the images, an identity for the functions.",
        f"gcloud config set project {q(project)}",
        "gcloud services enable run.googleapis.com artifactregistry.googleapis.com secretmanager.googleapis.com",
        f"gcloud artifacts repositories create vidpipe --repository-format=docker --location={q(region)}",
        "gcloud iam service-accounts create vidpipe-functions --display-name='vidpipe functions'",
        "",
        "# 2. The secrets, readable by the functions' identity alone.",
    ]
    for variable, secret in SECRETS.items():
        lines += [
            f'printf %s "${variable}" | gcloud secrets create {secret} --data-file=-',
            f"gcloud secrets add-iam-policy-binding {secret} --member=serviceAccount:{account}"
            " --role=roles/secretmanager.secretAccessor",
        ]
    lines += [
        "",
        "# 3. One image per function, FROM the public Debian base, pushed to the registry.",
        f"gcloud auth print-access-token | podman login -u oauth2accesstoken --password-stdin {region}-docker.pkg.dev",
    ]
    for function, spec in IMAGES.items():
        image = f"{registry}/{service(function)}:{tag}"
        lines += [
            f"podman build -f infra/images/Containerfile --build-arg BASE={PUBLIC_BASE}"
            f" --build-arg FUNCTION={function} --build-arg PACKAGES={q(' '.join(spec.packages))}"
            f" --build-arg MODEL={q(spec.model)} -t {image} .",
            f"podman push {image}",
        ]
    lines += ["", "# 4. One Cloud Run service per function. The events are signed: the door checks them itself."]
    for function, r in RESOURCES.items():
        # Storage and its service-role key only for the functions that read or write files.
        stores = function in STORAGE_USERS
        needed = {v: s for v, s in SECRETS.items() if stores or v != "VIDPIPE_SUPABASE_SERVICE_ROLE_KEY"}
        secrets = ",".join(f"{variable}={secret}:latest" for variable, secret in needed.items())
        variables = [f"VIDPIPE_STORAGE_BACKEND=supabase,VIDPIPE_SUPABASE_URL={supabase_url}"] if stores else []
        after = r.slots_after_answer is not None
        variables += [f"VIDPIPE_STEP_SLOTS={r.slots_after_answer}"] if after else []
        env = f" --set-env-vars={','.join(variables)}" if variables else ""
        lines += [
            f"# {function}: {r.why}",
            f"gcloud run deploy {service(function)} --image={registry}/{service(function)}:{tag} --region={q(region)}"
            f" --service-account={account} --execution-environment=gen2 --cpu={r.cpu} --memory={r.memory}"
            f" --concurrency={r.concurrency} --timeout={REQUEST_TIMEOUT_SECONDS}"
            f" --min-instances={r.min_instances} --max-instances={r.max_instances} --cpu-boost"
            f"{' --no-cpu-throttling' if after else ''}"
            f" --allow-unauthenticated{env} --set-secrets={secrets}",
        ]
    lines += [
        "",
        "# 5. The database learns where the functions are and sends the events through pg_net. psql",
        "#    reads the URLs and the secret from its environment (\\getenv), the SQL from stdin.",
    ]
    for function in RESOURCES:
        variable = function.upper() + "_URL"
        lines.append(
            f"{variable}=$(gcloud run services describe {service(function)} --region={q(region)}"
            " --format='value(status.url)')/"
        )
    exported = " ".join(f.upper() + "_URL" for f in RESOURCES)
    lines += [f"export {exported} VIDPIPE_EVENT_SECRET", "psql -X -v ON_ERROR_STOP=1 \"$SUPABASE_DB_URL\" <<'SQL'"]
    lines += [f"\\getenv {f}_url {f.upper()}_URL" for f in RESOURCES]
    urls = ", ".join(f"'{f}', :'{f}_url'" for f in RESOURCES)
    lines += [
        "\\getenv event_secret VIDPIPE_EVENT_SECRET",
        f"select public.configure_delivery('pg_net', jsonb_build_object({urls}), :'event_secret');",
        "SQL",
        "",
    ]
    return "\n".join(lines)
