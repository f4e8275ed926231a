"""Real-code evaluation: hard-coded credentials in published packages' sources and tests.

Two corpora of pinned packages, fetched with ``pip download`` / ``npm pack`` into
``bench/.work/realcode/`` (never into the repository):

* ``dev``: 14 PyPI sdists and 12 npm tarballs. Used while developing the generic rules: its
  misses were read, so its numbers are optimistic.
* ``heldout``: 8 PyPI sdists and 6 npm tarballs, labelled once and scored before any change
  prompted by them.

``labels.json`` / ``labels-heldout.json`` hold one entry per candidate line: package, path,
first and last line (a PEM block is one entry), whether it is a credential and its
category. They store no value.

How the labels were made: every line that secretvault (at the commit named in
bench/README.md), CredSweeper or gitleaks reported was pooled, PEM blocks were collapsed to
one entry, and each entry was judged by hand: a literal in a credential slot (password,
token, secret, key, nonce, URL user-info, key block) is a credential, whatever its strength
(``pygmalion``, ``wrong`` and RFC example tokens count), unless it is a placeholder
(``user:pass@``, ``p#ssword``, ``foo:bar``), truncated (``ya29…``), masked, a reference, a
signature or hash, a public identifier (OAuth consumer key, accessor id) or a well-known
public default (the Azurite storage key). The category comes from the slot's name (a rule
applied after the hand label). Recall is therefore *pooled*: relative to the credentials
any of the three tools found.

    .venv/bin/python bench/realcode/run.py --set heldout   # fetch (once), run, print the table
    .venv/bin/python bench/realcode/run.py --set dev --tools secretvault,credsweeper
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
sys.path.insert(0, str(BENCH / "scan"))

import tools  # noqa: E402  (bench/scan/tools.py: how each scanner is run and parsed)

WORK = BENCH / ".work" / "realcode"
PYPI = (
    "PyMySQL==1.1.1",
    "redis==5.0.8",
    "kombu==5.4.2",
    "pika==1.3.2",
    "paramiko==3.5.0",
    "oauthlib==3.2.2",
    "requests-oauthlib==2.0.0",
    "ldap3==2.9.1",
    "docker==7.1.0",
    "dj-database-url==2.3.0",
    "hvac==2.3.0",
    "peewee==3.17.8",
    "aiosmtplib==3.0.2",
    "django-environ==0.11.2",
)
NPM = (
    "mysql@2.18.1",
    "pg@8.13.1",
    "nodemailer@6.9.16",
    "amqplib@0.10.4",
    "oauth@0.10.0",
    "oauth-1.0a@2.2.6",
    "ssh2@1.16.0",
    "ldapjs@3.0.7",
    "mqtt@5.10.1",
    "mssql@11.0.1",
    "knex@3.1.0",
    "mongodb-connection-string-url@3.0.1",
)
PYPI_HELDOUT = (
    "asyncssh==2.18.0",
    "aiopg==1.4.0",
    "python-keycloak==4.7.3",
    "fabric==3.2.2",
    "smbprotocol==1.14.0",
    "aio-pika==9.5.3",
    "motor==3.6.0",
    "psycopg==3.2.3",
)
NPM_HELDOUT = (
    "ioredis@5.4.1",
    "tedious@18.6.1",
    "passport-oauth1@1.3.0",
    "ssh2-sftp-client@11.0.0",
    "nats@2.28.2",
    "redis@4.7.0",
)
SETS = {"dev": "labels.json", "heldout": "labels-heldout.json"}
CATEGORIES = (
    "Password",
    "Authentication Key & Token",
    "Generic Secret",
    "Seed/Salt/Nonce",
    "Private Key",
    "Predefined Pattern",
)
INFO_RULES = {"credsweeper": {"UUID"}}  # informational rules, not credential findings


def fetch() -> Path:
    """Download and unpack the corpus (once) into bench/.work/realcode/tree."""
    tree = WORK / "tree"
    if tree.exists():
        return tree
    dl = WORK / "dl"
    dl.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:"]
    for spec in (*PYPI, *PYPI_HELDOUT):
        subprocess.run([*pip, spec, "-d", str(dl)], check=True)
    npm = ["npm", "pack", "--silent", *NPM, *NPM_HELDOUT]
    subprocess.run(npm, cwd=dl, check=True, capture_output=True)
    tree.mkdir()
    for archive in sorted(dl.iterdir()):
        with tarfile.open(archive) as tf:
            if archive.suffix == ".tgz":  # npm: package/..., unpacked under npm-<name-version>
                tf.extractall(tree / f"npm-{archive.name[: -len('.tgz')]}", filter="data")
            else:
                tf.extractall(tree, filter="data")
    return tree


def score(
    labels: list[dict[str, object]], findings: set[tuple[str, int]], rules: dict[str, set[str]]
) -> dict[str, object]:
    """Map findings (path, line) to labelled entries; precision and recall per category."""
    by_line: dict[tuple[str, int], int] = {}
    for i, e in enumerate(labels):
        path = f"{e['package']}/{e['path']}"
        first, last = int(e["line"]), int(e["end"])  # type: ignore[call-overload]
        span = range(first - 1, last + 2) if last > first else range(first, first + 1)
        for ln in span:
            by_line.setdefault((path, ln), i)
    hit: set[int] = set()
    unlabelled = 0
    for key in findings:
        if key in by_line:
            hit.add(by_line[key])
        else:
            unlabelled += 1
    per: dict[str, dict[str, int]] = {}
    for i, e in enumerate(labels):
        c = per.setdefault(str(e["category"]), Counter())  # type: ignore[arg-type]
        if e["secret"]:
            c["tp" if i in hit else "fn"] += 1
        elif i in hit:
            c["fp"] += 1
    total = Counter()
    for c in per.values():
        total.update(c)
    per["all"] = total

    def ratios(c: dict[str, int]) -> dict[str, float]:
        tp, fp, fn = c.get("tp", 0), c.get("fp", 0), c.get("fn", 0)
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f1}

    misses = [i for i, e in enumerate(labels) if bool(e["secret"]) != (i in hit)]
    return {
        "categories": {k: ratios(v) for k, v in per.items()},
        "unlabelled": unlabelled,
        "errors": misses,  # indices into labels.json: missed credentials and false positives
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tools", default="secretvault,credsweeper,gitleaks,kingfisher,betterleaks")
    ap.add_argument("--output", type=Path, default=None, help="write results JSON here")
    ap.add_argument("--show-errors", action="store_true", help="print each miss and FP line")
    ap.add_argument("--set", choices=sorted(SETS), default="heldout", help="which labels")
    args = ap.parse_args(argv)
    tree = fetch()
    labels = json.loads((HERE / SETS[args.set]).read_text())
    packages = {str(e["package"]) for e in labels}
    available = tools._tools()
    results: dict[str, object] = {"set": args.set}
    for name in args.tools.split(","):
        tool = available[name]
        if not tool.available():
            print(f"{name}: not installed (bench/scan/run.py --install)", file=sys.stderr)
            continue
        run = tool.run(tree, WORK / "reports")
        skip = INFO_RULES.get(name, set())
        found = {
            k
            for k in run.findings
            if not set(run.rules.get(k, [])) <= skip and k[0].split("/", 1)[0] in packages
        }
        results[name] = {**score(labels, found, {}), "seconds": round(run.seconds, 2)}
    width = max(map(len, CATEGORIES)) + 2
    for name, res in results.items():
        if name == "set":
            continue
        cats = res["categories"]  # type: ignore[index]
        print(f"\n{name} ({res['seconds']} s, {res['unlabelled']} findings outside the pool)")  # type: ignore[index]
        for cat in (*CATEGORIES, "all"):
            c = cats.get(cat)
            if c:
                print(
                    f"  {cat:<{width}} P {c['precision']:.2f}  R {c['recall']:.2f}  "
                    f"F1 {c['f1']:.2f}  (tp {c['tp']}, fp {c['fp']}, fn {c['fn']})"
                )
        if args.show_errors:
            for i in res["errors"]:  # type: ignore[index]
                e = labels[i]
                path = tree / str(e["package"]) / str(e["path"])
                line = path.read_text(errors="replace").splitlines()[int(e["line"]) - 1]
                kind = "FN" if e["secret"] else "FP"
                print(
                    f"    {kind} {e['category'][:10]:<10} {e['path'][-28:]:<28} {line.strip()[:90]}"
                )
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
