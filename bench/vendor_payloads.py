"""`python -m bench.vendor_payloads DIR`: replay vendors' published example deliveries.

DIR holds `<vendor>/<event>.json` files copied from vendors' documentation and public
fixtures (the team keeps such a folder beside the repository; they are not ours to
commit). Each body is sent byte for byte as the file holds it, signed the way its vendor
signs, with the vendor headers our own fixture of that source uses (fresh delivery ids;
GitHub's event header taken from the file name). It must be accepted (202) and stored
byte for byte. Prints one line per file and exits non-zero when any is refused.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from starlette.testclient import TestClient

from db.embedded import EmbeddedPostgres
from db.migrate import migrate
from qdx.settings import PROJECT_ROOT, Settings
from web.app import create_app
from web.webhooks.registry import all_sources

# Folder name -> our source, where they differ.
ALIASES = {"github_actions": "github", "gitlab_ci": "gitlab"}
# Headers that name a delivery: replaced with a fresh value per file.
ID_HEADERS = {
    "x-github-delivery", "idempotency-key", "x-gitlab-event-uuid", "x-request-uuid",
    "x-webhook-id", "request-id", "linear-delivery", "x-atlassian-webhook-identifier",
}  # fmt: skip


def template_headers(source: str) -> dict[str, str]:
    import json

    samples = sorted((PROJECT_ROOT / "sources" / source / "samples").glob("*.json"))
    headers = json.loads(samples[0].read_text()).get("headers", {}) if samples else {}
    return {k: v for k, v in headers.items() if not k.startswith("_")}


def main(folder: Path) -> int:
    sources = all_sources()
    home = Path(tempfile.mkdtemp(prefix="qdx-vendor-"))
    server = EmbeddedPostgres(home, port=55900, listen=None, durable=False)
    info, _ = server.start()
    failures = 0
    try:
        conninfo = info.conninfo()
        migrate(conninfo)
        with psycopg.connect(conninfo) as conn:
            conn.execute("SELECT auth.create_org('vendors')")
        with TestClient(create_app(Settings.from_env({}), conninfo)) as http:
            for path in sorted(folder.glob("*/*.json")):
                if path.name.endswith(".headers.json"):
                    continue
                vendor = path.parent.name
                name = ALIASES.get(vendor, vendor)
                source = sources.get(name)
                if source is None:
                    print(f"SKIP   {vendor}/{path.name}: no source {name!r}")
                    continue
                secret, signing = source.auth.credentials()
                with psycopg.connect(conninfo) as conn:
                    row = conn.execute(
                        "SELECT endpoint_id FROM auth.add_webhook_endpoint('vendors', %s, %s, %s)",
                        (name, secret, uuid.uuid4().hex[:12]),
                    ).fetchone()
                assert row is not None
                body = path.read_bytes()
                headers = template_headers(name)
                for key in list(headers):
                    if key.lower() in ID_HEADERS:
                        headers[key] = str(uuid.uuid4())
                if name == "github":
                    headers["X-GitHub-Event"] = path.name.split(".")[0]
                signed = source.auth.sign(body, signing, time.time())
                headers = {"Content-Type": "application/json", **headers, **signed.headers}
                reply = http.post(
                    f"/webhooks/{name}/{row[0]}",
                    headers=headers,
                    params=signed.query,
                    content=signed.body,
                )
                stored_ok = False
                if reply.status_code == 202:
                    with psycopg.connect(conninfo) as conn:
                        got = conn.execute(
                            "SELECT body, event_type FROM raw.events WHERE event_id = %s",
                            (reply.json()["id"],),
                        ).fetchone()
                    stored_ok = got is not None and bytes(got[0]) == signed.body
                    detail = f"event type {got[1] if got else '?'}"
                else:
                    detail = reply.text
                ok = reply.status_code == 202 and stored_ok
                if ok and signed.body != body:
                    # Linear's replay window needs a fresh webhookTimestamp in the body.
                    detail += " (body timestamp refreshed for the replay window)"
                failures += not ok
                print(f"{'OK' if ok else 'FAIL':<6} {vendor}/{path.name} -> {name}: {detail}")
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1])))
