"""Scores a scanner's findings against a corpus's ``labels.jsonl``.

Matching: a finding ``(file, line)`` matches a secret label of the same file when the line
equals the label's line; for a multi-line label (a PEM / PuTTY / PGP block or a whole
service-account JSON) any line of the block, or one line either side, counts. One label per
secret, so a secret found by three rules is one true positive. Findings are first reduced to
distinct ``(file, line)`` pairs.

- TP = secret labels matched by at least one finding (so a tool that reports every line of
  a PEM block, or one secret under three rules, scores it once);
- FP = distinct findings that match none (classified by the decoy kind on that line, else
  ``carrier`` for an untouched line of a real carrier file);
- FN = secret labels no finding matches.

Usage as a script: ``python bench/scan/score.py CORPUS_DIR REPORT.json --tool NAME`` prints
the score as JSON (the benchmark runner imports :func:`score` instead).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

Finding = tuple[str, int]
_TOKEN = re.compile(r"[^\s\"'`<>(){}\[\],;]{10,}")
_URL_CRED = re.compile(r"(://[^:/\s@]+):[^@\s]+@")
_PEM = re.compile(r"(BEGIN|END) ([A-Z ]*)PRIVATE")


def load_labels(corpus: Path) -> list[dict[str, Any]]:
    """The labels of a corpus directory (``bench/.work/corpus-<size>``)."""
    with (corpus / "labels.jsonl").open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def redact(text: str) -> str:
    """Mask the middle of every long token so reports carry no usable value."""

    def mask(m: re.Match[str]) -> str:
        s = m.group(0)
        plain = s.replace("_", "").replace("-", "").replace(".", "").isalpha()
        if plain and len(s) < 24 and not s.isupper():
            return s
        return s[:4] + "…" + f"[{len(s)}]"

    text = _URL_CRED.sub(r"\1:<redacted>@", text.strip())
    text = _PEM.sub(r"\1 \2PRIV…", text)
    return _TOKEN.sub(mask, text)[:140]


def _line(tree: Path, rel: str, line: int) -> str:
    try:
        lines = (tree / rel).read_text(encoding="utf-8", errors="replace").split("\n")
    except OSError:
        return ""
    return lines[line - 1] if 0 < line <= len(lines) else ""


# Decoys that match one of the guide's seven table patterns (a GitHub token whose CRC32 fails, a
# JWT-shaped string whose header is not JSON). the guide's table says to report them; secretvault
# does, at confidence 0.3 with the reason. They count neither as TP nor as FP, and how many
# each tool reported is shown as ``spec_pattern_decoys_reported``.
SPEC_PATTERN_DECOYS = frozenset({"decoy_github_bad_crc", "decoy_jwt_bad_header"})


def score(
    findings: set[Finding],
    labels: list[dict[str, Any]],
    tree: Path,
    examples: int = 5,
    rules: dict[Finding, list[str]] | None = None,
) -> dict[str, Any]:
    """Precision / recall / F1 plus per-kind recall and FP classes for one tool's findings."""
    by_file: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    decoy_at: dict[Finding, str] = {}
    for i, lab in enumerate(labels):
        if lab["is_secret"]:
            by_file[lab["file"]].append((i, lab))
        else:
            for ln in range(lab["line"], lab["end_line"] + 1):
                decoy_at[(lab["file"], ln)] = lab["kind"]
    found: set[int] = set()
    tp = 0
    fp_rows: list[tuple[str, Finding]] = []
    spec_reported = 0
    for f in sorted(findings):
        fn, ln = f
        hit = False
        for i, lab in by_file.get(fn, []):
            lo, hi = lab["line"], lab["end_line"]
            if (lo == hi and ln == lo) or (lo != hi and lo - 1 <= ln <= hi + 1):
                found.add(i)
                hit = True
        if hit:
            tp += 1
            continue
        cls = decoy_at.get(f)
        if cls in SPEC_PATTERN_DECOYS:
            spec_reported += 1
            continue
        if cls is None:
            near = any(
                abs(ln - lab["line"]) <= 1 or abs(ln - lab["end_line"]) <= 1
                for _, lab in by_file.get(fn, [])
            )
            cls = (
                "adjacent_to_secret"
                if near
                else ("generated_config" if fn.startswith("deploy/") else "carrier")
            )
        fp_rows.append((cls, f))
    n_secrets = sum(1 for lab in labels if lab["is_secret"])
    fp = len(fp_rows)
    fn_count = n_secrets - len(found)
    tp = len(found)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = len(found) / n_secrets if n_secrets else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    kind_total: Counter[str] = Counter()
    kind_found: Counter[str] = Counter()
    syn_total: Counter[str] = Counter()
    syn_found: Counter[str] = Counter()
    misses: dict[str, list[str]] = defaultdict(list)
    for i, lab in enumerate(labels):
        if not lab["is_secret"]:
            continue
        syn = lab["syntax"]
        kind_total[lab["kind"]] += 1
        syn_total[syn] += 1
        if i in found:
            kind_found[lab["kind"]] += 1
            syn_found[syn] += 1
        elif len(misses[lab["kind"]]) < examples:
            text = redact(_line(tree, lab["file"], lab["line"]))
            misses[lab["kind"]].append(f"{lab['file']}:{lab['line']} [{syn}] {text}")
    fp_classes = Counter(cls for cls, _ in fp_rows)
    fp_examples: dict[str, list[str]] = defaultdict(list)
    for cls, (fn, ln) in fp_rows:
        if len(fp_examples[cls]) < examples:
            rule = ",".join(sorted(set((rules or {}).get((fn, ln), []))))
            fp_examples[cls].append(f"{fn}:{ln} ({rule}) {redact(_line(tree, fn, ln))}")
    decoys_total = Counter(lab["kind"] for lab in labels if not lab["is_secret"])
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn_count,
        "secrets": n_secrets,
        "secrets_found": len(found),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "spec_pattern_decoys_reported": spec_reported,
        "recall_by_kind": {k: [kind_found[k], kind_total[k]] for k in sorted(kind_total)},
        "recall_by_syntax": {k: [syn_found[k], syn_total[k]] for k in sorted(syn_total)},
        "fp_by_class": dict(fp_classes.most_common()),
        "decoys_total": dict(sorted(decoys_total.items())),
        "fp_examples": dict(fp_examples),
        "fn_examples": dict(misses),
    }


def main(argv: list[str] | None = None) -> None:
    """Score one tool's existing report file."""
    import tools

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("report", type=Path)
    ap.add_argument("--tool", required=True, choices=sorted(tools.TOOLS))
    args = ap.parse_args(argv)
    tree = (args.corpus / "tree").resolve()
    tool = tools.TOOLS[args.tool]
    stdout = args.report.read_text() if args.tool == "detect-secrets" else ""
    rows = tool.parse(args.report, tree, stdout)
    rules: dict[Finding, list[str]] = {}
    for p, ln, rule in rows:
        rules.setdefault((tools.normalise(p, tree), ln), []).append(rule)
    print(
        json.dumps(
            score(set(rules), load_labels(args.corpus), tree, rules=rules),
            indent=2,
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
