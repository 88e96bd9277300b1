"""Output formats and exit codes: SARIF validated against the official OASIS SARIF 2.1.0 schema
(shipped beside this file), JSON shape, text escaping, progress only on a terminal."""

from __future__ import annotations

import json
import os
import re
import select
from pathlib import Path

import jsonschema
import pytest

from guard.audit import all_rules
from guard.audit.progress import TtyProgress
from tests.audit import SCHEMA, SYS, audit, plant, sys_command
from tests.conftest import REPO, GuardEnv
from tests.core import raw_controls, run_guard, script, seed_os_index


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif-schema-2.1.0.json")
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def messy_path(ge: GuardEnv) -> str:
    """A PATH with a hygiene problem, a shadow of a packaged command, a shadow whose name is
    not UTF-8 and holds an escape sequence, and a look-alike name."""
    sys_command("ifconfig")
    a, b = ge.bindir("a"), ge.bindir("b")
    plant(a, "ifconfig")
    for d in (a, b):
        script(d, b"bad\xff\x1b[31mname")
    plant(b, "\u217cs")
    return f"{a}:{SYS}:{b}:{ge.root / 'missing'}"


def test_sarif_validates_against_the_official_schema(
    guard_env: GuardEnv, validator: jsonschema.Draft4Validator
) -> None:
    rc, sarif, _ = audit(guard_env, messy_path(guard_env), fmt="--sarif")
    errors = sorted(validator.iter_errors(sarif), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    assert sarif["version"] == "2.1.0" and rc == 1
    run = sarif["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids == [r.id for r in all_rules()]
    results = run["results"]
    seen = {r["ruleId"] for r in results}
    assert {"shadow.untrusted-winner", "path.missing", "confusable.nfkc"} <= seen
    for r in results:
        assert rule_ids[r["ruleIndex"]] == r["ruleId"]
        assert r["level"] in ("error", "warning", "note")
        for loc in r.get("locations", []) + r.get("relatedLocations", []):
            uri = loc["physicalLocation"]["artifactLocation"]["uri"]
            assert re.fullmatch(r"file:///[A-Za-z0-9/%._~-]*", uri)
    crit = next(r for r in results if r["properties"]["severity"] == "critical")
    assert crit["level"] == "error" and crit["properties"]["security-severity"] == "9.5"
    # The non-UTF-8 name is percent-encoded byte for byte.
    assert any("bad%FF%1B%5B31mname" in json.dumps(r.get("locations")) for r in results)
    shadow = next(r for r in results if r["ruleId"] == "shadow.untrusted-winner")
    assert len(shadow["locations"]) == 1 and shadow["relatedLocations"][0]["id"] == 1


def test_sarif_without_findings_validates(
    guard_env: GuardEnv, validator: jsonschema.Draft4Validator
) -> None:
    rc, sarif, _ = audit(guard_env, SYS, fmt="--sarif")
    assert list(validator.iter_errors(sarif)) == []
    assert sarif["runs"][0]["results"] == [] and rc == 0


def test_json_shape_and_stable_fingerprints(guard_env: GuardEnv) -> None:
    path = messy_path(guard_env)
    rc, doc, _ = audit(guard_env, path)
    assert rc == 1 and doc["format"] == 1
    assert set(doc) >= {"findings", "counts", "rules", "path", "envs", "executables"}
    assert sum(doc["counts"].values()) == len(doc["findings"])
    for f in doc["findings"]:
        assert set(f) == {
            "rule",
            "severity",
            "name",
            "message",
            "paths",
            "provenance",
            "fix",
            "fingerprint",
        }
        assert f["severity"] in ("low", "medium", "high", "critical") and f["fix"]
    _, again, _ = audit(guard_env, path)
    assert [f["fingerprint"] for f in again["findings"]] == [
        f["fingerprint"] for f in doc["findings"]
    ]
    sev = [f["severity"] for f in doc["findings"]]
    order = ["critical", "high", "medium", "low"]
    assert sev == sorted(sev, key=order.index)


def test_text_output_is_escaped_and_summarised(guard_env: GuardEnv) -> None:
    rc, out, err = audit(guard_env, messy_path(guard_env), fmt=None)
    assert raw_controls(out) == [] and raw_controls(err) == []
    assert b"bad\\xff\\x1b[31mname" in out
    last = out.decode().rstrip("\n").splitlines()[-1]
    assert re.match(r"guard audit: \d+ finding\(s\) \(\d+ critical", last) and rc == 1
    assert err == b""  # no progress line when stderr is not a terminal


def test_min_severity_filters_output_and_exit_code(guard_env: GuardEnv) -> None:
    path = messy_path(guard_env)
    rc, doc, _ = audit(guard_env, path, "--min-severity", "critical")
    assert {f["severity"] for f in doc["findings"]} == {"critical"} and rc == 1
    rc, out, err = audit(guard_env, path, "--min-severity", "bogus")
    assert rc == 2 and b"invalid choice" in err


def test_json_and_sarif_are_exclusive(guard_env: GuardEnv) -> None:
    seed_os_index(guard_env)
    r = run_guard(guard_env, "audit", "--json", "--sarif", path=SYS)
    assert r.returncode == 2 and b"not allowed with" in r.stderr


def test_progress_only_on_a_terminal() -> None:
    master, slave = os.openpty()
    try:
        with os.fdopen(os.dup(slave), "w") as tty:
            p = TtyProgress(tty, delay=0)
            p("verifying", 5, 10)
            p.clear()
        shown = b""
        while not shown.endswith(b"\r\x1b[K") and select.select([master], [], [], 2)[0]:
            shown += os.read(master, 4096)
        assert b"guard: verifying 5/10" in shown and shown.endswith(b"\r\x1b[K")
    finally:
        os.close(master)
        os.close(slave)
    r, w = os.pipe()
    with os.fdopen(w, "w") as pipe:
        p = TtyProgress(pipe, delay=0)
        p("verifying", 5, 10)
        p.clear()
    with os.fdopen(r, "rb") as rf:
        assert rf.read() == b""


def test_every_rule_is_documented() -> None:
    doc = (REPO / "docs" / "audit.md").read_text(encoding="utf-8")
    missing = [r.id for r in all_rules() if f"`{r.id}`" not in doc]
    assert missing == []


def test_rule_ids_are_unique_and_well_formed() -> None:
    ids = [r.id for r in all_rules()]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+\.[a-z-]+", i) for i in ids)


def test_schema_file_is_the_official_text() -> None:
    """The shipped schema is OASIS' errata01 text, unmodified (its size and its id)."""
    text = Path(SCHEMA).read_text(encoding="utf-8")
    assert len(text) == 112768
    assert '"id": "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/' in text
