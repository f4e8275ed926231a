"""Labelled corpus generator for the secret-scanner benchmark.

Writes ``bench/.work/corpus-<size>/tree/`` (the tree every tool scans) and, beside it,
``labels.jsonl`` (one JSON object per injected secret or decoy: file, line, end_line, kind,
is_secret, syntax) and ``manifest.json``. Labels never go inside the tree.

Carriers are real text files copied from installed packages (the Python standard library and
site-packages). Into a share of them secrets and hard decoys are injected in the syntax of the
file (Python, JSON, YAML, JS, shell, TOML/INI, XML, Markdown/reST); a tenth of the tree are
small config files (``.env``, Dockerfile, Kubernetes manifests, ``.properties``,
docker-compose, tfvars, ``.npmrc``, key files, service-account JSON) written from templates.

Carrier vetting: real carriers may hold real-looking strings. When the peer binaries are
installed, the pristine carriers are scanned once by gitleaks, Kingfisher and Betterleaks and
every carrier file that any of them flags is dropped (our own scanner is deliberately not
used for vetting). What remains counts as clean: any finding on a carrier line is a false
positive.

Everything is seeded: the same ``--size`` and ``--seed`` give the same corpus (the vetting
step depends on the peers' versions).

Usage: ``python bench/scan/corpus.py --size small|50mb|300mb [--seed N] [--no-vet]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import secrets_gen as sg

BENCH = Path(__file__).resolve().parent.parent
WORK = BENCH / ".work"
SIZES = {"small": 5 * 2**20, "50mb": 50 * 2**20, "300mb": 300 * 2**20}
CARRIER_EXTS = {
    ".py",
    ".json",
    ".md",
    ".rst",
    ".txt",
    ".js",
    ".sh",
    ".toml",
    ".ini",
    ".cfg",
    ".xml",
    ".yaml",
    ".yml",
}
SKIP_PARTS = re.compile(
    r"(?i)(^|/)(tests?|testing|test_\w*|\w*_tests?|examples?|samples?|"
    r"fixtures?|__pycache__|idle_test|testdata)(/|$)"
)
SKIP_NAMES = re.compile(
    r"(?i)(test|example|sample|fixture|mock|secret|password|token|"
    r"credential|\.min\.|lock)"
)
EXTRA_ROOTS = [
    "/usr/lib/node_modules/npm",
    "/usr/lib/google-cloud-sdk/lib",
    "/usr/lib/google-cloud-sdk/platform/gsutil",
    "/usr/share/doc/nodejs",
    "/usr/share/cmake-3.25/Help",
    "/usr/lib/python3/dist-packages",
]
# Share of carrier files drawn from each extension group (empty groups are skipped), so the
# corpus is not all Python: real repositories mix code, config and docs.
GROUP_WEIGHTS = {
    "py": 0.40,
    "json": 0.12,
    "doc": 0.15,
    "js": 0.13,
    "yaml": 0.10,
    "xml": 0.04,
    "conf": 0.06,
}
EXT_GROUP = {
    ".py": "py",
    ".json": "json",
    ".md": "doc",
    ".rst": "doc",
    ".txt": "doc",
    ".js": "js",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".xml": "xml",
    ".sh": "conf",
    ".toml": "conf",
    ".ini": "conf",
    ".cfg": "conf",
}
# Path segments that several scanners skip by default (vendored code) are renamed, so the
# benchmark measures detection rather than each tool's path policy.
VENDOR_RENAMES = {
    "node_modules/": "js_modules/",
    "third_party/": "extern/",
    "_vendor/": "_bundled/",
    "vendor/": "bundled/",
    "/docs/": "/guide/",
    "dist-info/": "meta/",
}
SECRET_RATE = 0.30  # share of carriers that get secrets
DECOY_RATE = 0.30  # share of carriers that get decoys
CONFIG_SHARE = 0.10  # share of files that are generated config files

# A screen on top of the peer vetting: carriers that look like they hold key material.
SCREEN = re.compile(
    "|".join(
        [
            sg.PEM_DASH + "BEGIN [A-Z ]*PRIVATE",
            sg.P_AKIA + "[0-9A-Z]{16}",
            "PuTTY-User-Key-File",
        ]
    )
)


@dataclass
class Label:
    """One injected secret (is_secret) or decoy, 1-based inclusive line range in ``file``."""

    file: str
    line: int
    end_line: int
    kind: str
    is_secret: bool
    syntax: str


# --------------------------------------------------------------------------- naming helpers


def upper(name: str) -> str:
    """Env-style UPPER_SNAKE name."""
    return name.upper()


def camel(name: str) -> str:
    """JS-style camelCase name."""
    head, *rest = name.split("_")
    return head + "".join(p.capitalize() for p in rest)


def dotted(name: str) -> str:
    """Java-properties-style dotted name."""
    return name.replace("_", ".")


# --------------------------------------------------------------------------- renderers
# A renderer takes a Spec and returns (lines, index of the first value line, index of the
# last value line) relative to the returned lines.

Rendered = tuple[list[str], int, int]

CODE_SYNTAXES = {"py_assign", "py_dict", "py_kwarg", "js_const", "js_object"}


def render_line(spec: sg.Spec, syntax: str, indent: str = "") -> str:
    """One line that assigns ``spec.value`` to ``spec.name`` in ``syntax``."""
    n, v = spec.name, spec.value
    if spec.raw:
        if spec.kind == "decoy_typed_field":
            return f"{indent}{v}"
        if syntax.startswith("js"):
            v = v.replace('os.environ["', "process.env.").replace('os.getenv("', "process.env.")
            v = re.sub(r'["\)].*$', "", v) if v.startswith("process.env.") else v
            return f"{indent}const {camel(n)} = {v};"
        return f"{indent}{n} = {v}"
    table = {
        "py_assign": f'{indent}{n} = "{v}"',
        "py_upper": f'{indent}{upper(n)} = "{v}"',
        "py_dict": f'{indent}CONFIG = {{"{n}": "{v}", "timeout": 30}}',
        "py_kwarg": f'{indent}client = Client(endpoint=ENDPOINT, {n}="{v}")',
        "py_comment": f"{indent}# {n}: {v}",
        "json_kv": f'{indent}"{n}": "{v}",',
        "yaml_kv": f"{indent}{n}: {v}"
        if v and not v.startswith(("{", "%", "<", "[", "*"))
        else f'{indent}{n}: "{v}"',
        "yaml_quoted": f'{indent}{n}: "{v}"',
        "env": f"{upper(n)}={v}",
        "shell_export": f'export {upper(n)}="{v}"',
        "dockerfile_env": f"ENV {upper(n)}={v}",
        "properties": f"{dotted(n)}={v}",
        "xml": f"{indent}<{camel(n)}>{v}</{camel(n)}>",
        "xml_attr": f'{indent}<add key="{camel(n)}" value="{v}" />',
        "js_const": f'{indent}const {camel(n)} = "{v}";',
        "js_object": f"{indent}  {camel(n)}: '{v}',",
        "js_comment": f"{indent}// {camel(n)} = {v}",
        "toml": f'{indent}{n} = "{v}"',
        "ini": f"{indent}{n} = {v}",
        "curl": f'curl -sS -H "Authorization: Bearer {v}" https://api.acme.io/v1/deployments',
        "prose": f"{indent}Use the {n.replace('_', ' ')} {v} for the staging account.",
        "k8s_string_data": f"  {n.replace('_', '-')}: {v}",
        "compose_env": f"      - {upper(n)}={v}",
        "tfvars": f'{n} = "{v}"',
        "npmrc": f"//registry.npmjs.org/:_authToken={v}",
        "md_inline": f"{indent}Set `{upper(n)}={v}` before running the deploy script.",
        "java_field": f'{indent}private static final String {upper(n)} = "{v}";',
        "go_kv": f'{indent}\t{camel(n)[:1].upper()}{camel(n)[1:]}: "{v}",',
        "py_getenv_default": f'{indent}{upper(n)} = os.getenv("{upper(n)}", "{v}")',
        "py_setdefault": f'{indent}os.environ.setdefault("{upper(n)}", "{v}")',
        "py_json_string": f'{indent}PAYLOAD = "{{\\"{n}\\": \\"{v}\\"}}"',
        "url_query": f'{indent}EXPORT_URL = "https://api.acme.io/v1/export?{n}={v}&format=csv"',
        "powershell": f'${camel(n)} = ConvertTo-SecureString "{v}" -AsPlainText -Force',
    }
    return table[syntax]


def render(spec: sg.Spec, syntax: str, indent: str = "") -> Rendered:
    """Lines for a spec in ``syntax``; multi-line blocks get a syntax-appropriate wrapper."""
    if not spec.block:
        return [render_line(spec, syntax, indent)], 0, 0
    block = spec.block
    n = spec.name
    if syntax in ("py_assign", "py_upper", "py_dict", "py_kwarg", "py_comment"):
        lines = [f'{indent}{upper(n)} = """{block[0]}', *block[1:-1], f'{block[-1]}"""']
        return lines, 0, len(lines) - 1
    if syntax in ("yaml_kv", "yaml_quoted", "k8s_string_data"):
        pad = indent + ("  " if syntax != "k8s_string_data" else "    ")
        head = f"{indent}{n}: |" if syntax != "k8s_string_data" else f"  {n.replace('_', '-')}: |"
        lines = [head, *[pad + b if b else "" for b in block]]
        return lines, 1, len(lines) - 1
    if syntax == "json_kv":
        return [f'{indent}"{n}": "' + "\\n".join(block) + '\\n",'], 0, 0
    if syntax in ("env", "shell_export", "dockerfile_env", "compose_env", "properties"):
        joined = "\\n".join(block)
        key = upper(n) if syntax != "properties" else dotted(n)
        pre = {
            "env": "",
            "shell_export": "export ",
            "dockerfile_env": "ENV ",
            "compose_env": "      - ",
            "properties": "",
        }[syntax]
        quote = '"' if syntax in ("env", "shell_export") else ""
        return [f"{pre}{key}={quote}{joined}{quote}"], 0, 0
    if syntax in ("js_const", "js_object", "js_comment"):
        lines = [f"{indent}const {camel(n)} = `{block[0]}", *block[1:-1], f"{block[-1]}`;"]
        return lines, 0, len(lines) - 1
    # raw block (Markdown fence, reST literal, XML CDATA, key file)
    lines = [indent + b if b else "" for b in block]
    return lines, 0, len(lines) - 1


# Syntaxes that fit inside a carrier of a given extension.
EXT_SYNTAXES: dict[str, list[str]] = {
    ".py": ["py_assign", "py_upper", "py_dict", "py_kwarg", "py_comment"] * 2
    + ["py_getenv_default", "py_setdefault", "py_json_string", "url_query"],
    ".json": ["json_kv"],
    ".yaml": ["yaml_kv", "yaml_quoted"],
    ".yml": ["yaml_kv", "yaml_quoted"],
    ".js": ["js_const", "js_object", "js_comment"],
    ".sh": ["shell_export", "curl"],
    ".toml": ["toml"],
    ".ini": ["ini"],
    ".cfg": ["ini"],
    ".xml": ["xml", "xml_attr"],
    ".md": ["md_fence", "md_inline", "prose"],
    ".rst": ["rst_literal", "prose"],
    ".txt": ["rst_literal", "prose"],
}
FENCE_INNER = [
    "shell_export",
    "env",
    "curl",
    "yaml_kv",
    "py_assign",
    "json_kv",
    "toml",
    "java_field",
    "go_kv",
    "powershell",
]
FENCE_LANG = {
    "shell_export": "bash",
    "env": "dotenv",
    "curl": "bash",
    "yaml_kv": "yaml",
    "py_assign": "python",
    "json_kv": "json",
    "toml": "toml",
    "java_field": "java",
    "go_kv": "go",
    "powershell": "powershell",
}
# Held-out single-line syntaxes: no PEM blocks, and URL-safe values only for url_query.
SINGLE_ONLY = {"py_getenv_default", "py_setdefault", "py_json_string", "url_query", "powershell"}
TOKEN_ONLY = {"curl", "prose", "py_comment", "js_comment"}
NO_RAW = {
    "json_kv",
    "yaml_kv",
    "yaml_quoted",
    "toml",
    "ini",
    "xml",
    "xml_attr",
    "env",
    "shell_export",
    "dockerfile_env",
    "properties",
    "curl",
    "prose",
    "md_inline",
    "k8s_string_data",
    "compose_env",
    "tfvars",
    "npmrc",
    "py_comment",
    "js_comment",
    "java_field",
    "go_kv",
    *SINGLE_ONLY,
}


def choose_syntax(rng: random.Random, specs: list[sg.Spec], options: list[str]) -> str | None:
    """A syntax from ``options`` that can carry every spec of the group, or None."""
    ok = []
    for syn in options:
        inner = syn
        if syn in ("md_fence", "rst_literal"):
            ok.append(syn)
            continue
        if any(s.raw for s in specs) and syn in NO_RAW:
            continue
        if syn in TOKEN_ONLY and not all(s.token and not s.block for s in specs):
            continue
        if syn == "npmrc" and specs[0].kind != "npm_token":
            continue
        if any(s.kind == "decoy_typed_field" for s in specs) and not syn.startswith("py"):
            continue
        if syn in SINGLE_ONLY and any(s.block for s in specs):
            continue
        if syn == "url_query" and any(re.search(r"[\s;&#%/:?]", s.value) for s in specs):
            continue
        ok.append(inner)
    return rng.choice(ok) if ok else None


def render_group(
    rng: random.Random, specs: list[sg.Spec], syntax: str, indent: str = ""
) -> tuple[list[str], list[tuple[sg.Spec, int, int, str]]]:
    """Render a group (e.g. an AWS key pair) into lines plus (spec, first, last, syntax)."""
    out: list[str] = []
    marks: list[tuple[sg.Spec, int, int, str]] = []
    wrapper = syntax in ("md_fence", "rst_literal")
    inner_syntax = syntax
    if wrapper:
        candidates = [
            s
            for s in FENCE_INNER
            if not (any(sp.raw for sp in specs) and s in NO_RAW)
            and not (s in SINGLE_ONLY and any(sp.block for sp in specs))
            and not (s == "curl" and not all(sp.token and not sp.block for sp in specs))
        ]
        if any(sp.raw for sp in specs):
            candidates = ["py_assign"]
        inner_syntax = rng.choice(candidates)
        if syntax == "md_fence":
            out.append("```" + FENCE_LANG[inner_syntax])
        else:
            out.extend(["Example::", ""])
    pad = "    " if syntax == "rst_literal" else indent
    for spec in specs:
        lines, first, last = render(spec, inner_syntax, pad)
        if syntax == "rst_literal":
            lines = [ln if ln.startswith(pad) or not ln else pad + ln for ln in lines]
        marks.append(
            (
                spec,
                len(out) + first,
                len(out) + last,
                syntax if not wrapper else f"{syntax}:{inner_syntax}",
            )
        )
        out.extend(lines)
    if syntax == "md_fence":
        out.append("```")
    elif syntax == "rst_literal":
        out.append("")
    return out, marks


# --------------------------------------------------------------------------- carriers


def carrier_roots() -> list[Path]:
    """Directories whose text files serve as carriers (stdlib + installed packages)."""
    roots: list[Path] = []
    base = Path(sys.base_prefix) / "lib"
    roots += sorted(base.glob("python3.*"))
    here = Path(__file__).resolve().parents[2] / ".venv" / "lib"
    roots += sorted(p / "site-packages" for p in here.glob("python3.*"))
    pyenv = Path("/root/.pyenv/versions")
    if pyenv.is_dir():
        for ver in sorted(pyenv.iterdir()):
            roots += sorted(p for p in (ver / "lib").glob("python3.*") if p not in roots)
    # Other installed software with JS / YAML / XML / Markdown / shell files, when present.
    roots += [Path(p) for p in EXTRA_ROOTS]
    seen: set[Path] = set()
    uniq = []
    for r in roots:
        rr = r.resolve()
        if rr.is_dir() and rr not in seen:
            seen.add(rr)
            uniq.append(rr)
    return uniq


def carrier_pool() -> list[tuple[Path, str]]:
    """(source path, corpus-relative path) for every usable carrier, in a stable order."""
    pool: list[tuple[Path, str]] = []
    for ri, root in enumerate(carrier_roots()):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, root)
            if SKIP_PARTS.search(rel_dir.replace(os.sep, "/")):
                dirnames[:] = []
                continue
            for fn in sorted(filenames):
                ext = os.path.splitext(fn)[1]
                if ext not in CARRIER_EXTS or SKIP_NAMES.search(fn):
                    continue
                src = Path(dirpath) / fn
                try:
                    size = src.stat().st_size
                except OSError:
                    continue
                if not 2_000 <= size <= 200_000:
                    continue
                rel = os.path.normpath(os.path.join(f"r{ri}", rel_dir, fn)).replace(os.sep, "/")
                rel = rel.replace("site-packages/", "")
                for seg, new in VENDOR_RENAMES.items():
                    rel = rel.replace(seg, new)
                pool.append((src, rel))
    return pool


def read_text(path: Path) -> str | None:
    """UTF-8 text of ``path`` or None when binary / undecodable / key-material-looking."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if SCREEN.search(text) or "\r" in text:
        return None
    return text


# --------------------------------------------------------------------------- config files

CONFIG_KINDS = [
    "env",
    "dockerfile",
    "k8s",
    "properties",
    "compose",
    "tfvars",
    "npmrc",
    "settings_yaml",
    "keyfile",
    "ppk",
    "asc",
    "gcp_json",
    "aws_credentials",
]


def config_file(
    rng: random.Random, idx: int, secret_kinds: list[str], decoy_kinds: list[str]
) -> tuple[str, list[str], list[Label]]:
    """A small generated config file with one or two secrets and/or decoys."""
    cfg = rng.choice(CONFIG_KINDS)
    app = rng.choice(["billing", "orders", "gateway", "search", "auth", "reports", "ingest"])
    d = f"deploy/{app}-{idx:05d}"
    labels: list[Label] = []
    lines: list[str] = []

    def add(specs: list[sg.Spec], syntax: str, indent: str = "") -> None:
        out, marks = render_group(rng, specs, syntax, indent)
        base = len(lines)
        lines.extend(out)
        for spec, a, b, syn in marks:
            labels.append(Label("", base + a + 1, base + b + 1, spec.kind, spec.is_secret, syn))

    def groups(n: int, single_line: bool = True) -> Iterator[list[sg.Spec]]:
        for _ in range(n):
            pool = secret_kinds if rng.random() < 0.6 else decoy_kinds
            for _try in range(20):
                specs = sg.make(rng, rng.choice(pool))
                if any(s.file_only for s in specs):
                    continue
                if single_line and any(s.block for s in specs):
                    continue
                if any(s.raw for s in specs):
                    continue
                yield specs
                break

    filler = [
        f"LOG_LEVEL={rng.choice(['info', 'debug', 'warning'])}",
        f"PORT={rng.randint(3000, 9000)}",
        f"SERVICE_NAME={app}",
        "FEATURE_FLAGS=metrics,tracing",
        f"WORKERS={rng.randint(1, 8)}",
    ]
    if cfg == "env":
        path = f"{d}/.env" if rng.random() < 0.5 else f"{d}/.env.production"
        lines += ["# generated by deploy tooling", *filler[:3]]
        for g in groups(rng.randint(1, 3), single_line=False):
            add(g, "env")
        lines += filler[3:]
    elif cfg == "dockerfile":
        path = f"{d}/Dockerfile"
        lines += [
            "FROM python:3.11-slim",
            "WORKDIR /app",
            "COPY requirements.txt .",
            "RUN pip install --no-cache-dir -r requirements.txt",
        ]
        for g in groups(rng.randint(1, 2)):
            add(g, "dockerfile_env")
        lines += ["COPY . .", 'CMD ["gunicorn", "app:create_app()", "-b", "0.0.0.0:8000"]']
    elif cfg == "k8s":
        path = f"{d}/k8s/secret.yaml"
        lines += [
            "apiVersion: v1",
            "kind: Secret",
            "metadata:",
            f"  name: {app}-secrets",
            "  namespace: prod",
            "type: Opaque",
            "stringData:",
        ]
        for g in groups(rng.randint(1, 3), single_line=False):
            add(g, "k8s_string_data")
    elif cfg == "properties":
        path = f"{d}/src/main/resources/application.properties"
        lines += [
            f"spring.application.name={app}",
            "server.port=8080",
            "spring.jpa.hibernate.ddl-auto=validate",
        ]
        for g in groups(rng.randint(1, 3)):
            add(g, "properties")
        lines += ["management.endpoints.web.exposure.include=health,info"]
    elif cfg == "compose":
        path = f"{d}/docker-compose.yml"
        lines += [
            "services:",
            f"  {app}:",
            f"    image: acme/{app}:1.4.2",
            "    ports:",
            '      - "8000:8000"',
            "    environment:",
        ]
        for g in groups(rng.randint(1, 3)):
            add(g, "compose_env")
        lines += ["    restart: unless-stopped"]
    elif cfg == "tfvars":
        path = f"{d}/terraform.tfvars"
        lines += ['region = "eu-west-1"', f'environment = "{app}-prod"', "instance_count = 3"]
        for g in groups(rng.randint(1, 3)):
            add(g, "tfvars")
    elif cfg == "npmrc":
        path = f"{d}/.npmrc"
        lines += ["registry=https://registry.npmjs.org/", "save-exact=true"]
        add(
            sg.make(rng, "npm_token")
            if rng.random() < 0.8
            else [sg.Spec("decoy_env_reference", False, "npm_token", "${NPM_TOKEN}")],
            "npmrc",
        )
    elif cfg == "settings_yaml":
        path = f"{d}/config/settings.yaml"
        lines += [f"app: {app}", "debug: false", "database:", "  pool_size: 10"]
        for g in groups(rng.randint(1, 3), single_line=False):
            add(g, "yaml_kv", "  ")
        lines += ["cache:", "  ttl: 300"]
    elif cfg == "aws_credentials":
        path = f"{d}/.aws/credentials"
        lines += ["[default]"]
        add(
            sg.make(rng, "aws_access_key_pair" if rng.random() < 0.8 else "decoy_aws_doc_example"),
            "ini",
        )
        lines += ["region = eu-west-1"]
    else:  # whole-file key material
        pem_kinds = sorted(k for k in sg.SECRETS if k.startswith("private_"))
        pem_kinds += ["decoy_certificate", "decoy_public_key_pem"]
        kind = {
            "keyfile": rng.choice(pem_kinds),
            "ppk": "putty_private_key",
            "asc": "pgp_private_key",
            "gcp_json": "gcp_service_account",
        }[cfg]
        ext = {
            "keyfile": rng.choice(["id_key", "server.key", "key.pem", "tls.pem"]),
            "ppk": "deploy.ppk",
            "asc": "signing-key.asc",
            "gcp_json": "gcp-credentials.json",
        }[cfg]
        path = f"{d}/{ext}"
        add(sg.make(rng, kind), "raw")
    for lab in labels:
        lab.file = path
    return path, lines, labels


# --------------------------------------------------------------------------- injection


def insertion_points(lines: list[str], ext: str) -> list[tuple[int, str]]:
    """(index to insert before, indent) positions where an injected line fits."""
    pts: list[tuple[int, str]] = []
    n = len(lines)
    if ext == ".json":
        for i, ln in enumerate(lines[:-1]):
            s = ln.rstrip()
            if s.endswith("{") and lines[i + 1].strip() not in ("}", "},"):
                ind = len(lines[i + 1]) - len(lines[i + 1].lstrip())
                pts.append((i + 1, lines[i + 1][:ind]))
        return pts
    if ext in (".yaml", ".yml", ".toml", ".ini", ".cfg"):
        for i in range(1, n):
            if lines[i] and not lines[i][0].isspace() and not lines[i].startswith(("-", "[")):
                if ext in (".ini", ".cfg") and lines[i - 1].strip() != "":
                    pass
                pts.append((i, ""))
        if ext in (".toml", ".ini", ".cfg"):
            pts = [(i, "") for i in range(1, n + 1) if i == n or (lines[i].strip() == "" and i > 0)]
        return pts or [(n, "")]
    if ext == ".xml":
        for i in range(1, n):
            if (
                lines[i - 1].rstrip().endswith(">")
                and lines[i].lstrip().startswith("<")
                and not lines[i].lstrip().startswith(("</", "<?", "<!"))
            ):
                ind = len(lines[i]) - len(lines[i].lstrip())
                pts.append((i, lines[i][:ind]))
        return pts
    # code / prose: top-level boundaries (a blank line followed by a non-indented line)
    in_triple = False
    for i in range(1, n):
        ln = lines[i - 1]
        if ext == ".py" and (ln.count('"""') + ln.count("'''")) % 2 == 1:
            in_triple = not in_triple
        if in_triple:
            continue
        if lines[i - 1].strip() == "" and lines[i] and not lines[i][0].isspace():
            if ext == ".md" and lines[i].startswith(("```", "    ")):
                continue
            pts.append((i, ""))
    return pts or [(n, "")]


def inject(
    rng: random.Random, rel: str, text: str, secret_kinds: list[str], decoy_kinds: list[str]
) -> tuple[str, list[Label]]:
    """Inject 0..3 secret/decoy groups into a carrier's text; return new text and labels."""
    ext = os.path.splitext(rel)[1]
    lines = text.split("\n")
    trailing_nl = text.endswith("\n")
    if trailing_nl:
        lines = lines[:-1]
    todo: list[list[sg.Spec]] = []
    if rng.random() < SECRET_RATE:
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            todo.append(sg.make(rng, rng.choice(secret_kinds)))
    if rng.random() < DECOY_RATE:
        for _ in range(rng.choice([1, 1, 2, 3])):
            todo.append(sg.make(rng, rng.choice(decoy_kinds)))
    todo = [g for g in todo if not any(s.file_only for s in g)]
    if not todo:
        return text, []
    points = insertion_points(lines, ext)
    if not points:
        return text, []
    options = EXT_SYNTAXES.get(ext, ["prose"])
    planned: list[tuple[int, str, list[sg.Spec], str]] = []
    for specs in todo:
        syn = choose_syntax(rng, specs, options)
        if syn is None:
            continue
        idx, indent = rng.choice(points)
        planned.append((idx, indent, specs, syn))
    planned.sort(key=lambda p: p[0])
    out: list[str] = []
    labels: list[Label] = []
    cursor = 0
    for idx, indent, specs, syn in planned:
        out.extend(lines[cursor:idx])
        cursor = idx
        block, marks = render_group(rng, specs, syn, indent)
        if ext in (".py", ".md", ".rst", ".txt", ".sh", ".js") and not syn.startswith(
            ("md_", "rst_")
        ):
            block = [*block, ""]
        base = len(out)
        out.extend(block)
        for spec, a, b, s in marks:
            labels.append(Label(rel, base + a + 1, base + b + 1, spec.kind, spec.is_secret, s))
    out.extend(lines[cursor:])
    return "\n".join(out) + ("\n" if trailing_nl else ""), labels


# --------------------------------------------------------------------------- vetting


def vet(tree: Path, work: Path) -> set[str]:
    """Relative paths under ``tree`` that any fast peer flags (needs bench/.peers)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import tools

    flagged: set[str] = set()
    for name in ("gitleaks", "kingfisher", "betterleaks"):
        tool = tools.TOOLS[name]
        if not tool.available():
            print(f"  vet: {name} not installed, skipped", file=sys.stderr)
            continue
        res = tool.run(tree, work / f"vet-{name}")
        got = {f for f, _ in res.findings}
        print(f"  vet: {name} flags {len(got)} carrier files", file=sys.stderr)
        flagged |= got
    return flagged


# --------------------------------------------------------------------------- main


def generate(size: str, seed: int = 1337, do_vet: bool = True) -> Path:
    """Build ``bench/.work/corpus-<size>`` and return its directory."""
    target = SIZES[size]
    rng = random.Random(f"{seed}-{size}")
    out_dir = WORK / f"corpus-{size}"
    tree = out_dir / "tree"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tree.mkdir(parents=True)

    pool = carrier_pool()
    groups: dict[str, list[int]] = {g: [] for g in GROUP_WEIGHTS}
    for i, (src, _) in enumerate(pool):
        groups[EXT_GROUP[src.suffix]].append(i)
    for idxs in groups.values():
        rng.shuffle(idxs)
    names = [g for g in GROUP_WEIGHTS if groups[g]]
    weights = [GROUP_WEIGHTS[g] for g in names]
    cursor = dict.fromkeys(names, 0)
    carrier_target = int(target * (1 - CONFIG_SHARE * 0.02))
    picked: list[tuple[str, str]] = []  # (rel, text)
    total = 0
    # Over-select by 8% so vetting can drop files; carriers reused (under copyN/) if a group
    # runs out.
    while total < carrier_target * 1.08:
        g = rng.choices(names, weights)[0]
        k = cursor[g]
        cursor[g] += 1
        src, rel = pool[groups[g][k % len(groups[g])]]
        text = read_text(src)
        if text is None:
            continue
        if k >= len(groups[g]):
            rel = f"copy{k // len(groups[g])}/{rel}"
        picked.append((rel, text))
        total += len(text.encode())
    rels = [r for r, _ in picked]
    if len(set(rels)) != len(rels):
        raise SystemExit("duplicate carrier paths")

    flagged: set[str] = set()
    if do_vet:
        pristine = WORK / f"pristine-{size}"
        if pristine.exists():
            shutil.rmtree(pristine)
        for rel, text in picked:
            p = pristine / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
        flagged = vet(pristine, WORK / f"vet-{size}")
        shutil.rmtree(pristine)
    kept = [(r, t) for r, t in picked if r not in flagged]

    secret_kinds = sorted(sg.SECRETS)
    decoy_kinds = sorted(sg.DECOYS)
    labels: list[Label] = []
    written = 0
    n_files = 0
    n_config = 0
    for rel, text in kept:
        if written >= carrier_target:
            break
        new_text, labs = inject(rng, rel, text, secret_kinds, decoy_kinds)
        p = tree / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(new_text, encoding="utf-8")
        written += len(new_text.encode())
        labels += labs
        n_files += 1
        if rng.random() < CONFIG_SHARE / (1 - CONFIG_SHARE):
            path, lines, labs = config_file(rng, n_config, secret_kinds, decoy_kinds)
            body = "\n".join(lines) + "\n"
            q = tree / path
            q.parent.mkdir(parents=True, exist_ok=True)
            q.write_text(body, encoding="utf-8")
            written += len(body.encode())
            labels += labs
            n_config += 1
            n_files += 1
    with (out_dir / "labels.jsonl").open("w") as fh:
        for lab in labels:
            fh.write(json.dumps(asdict(lab)) + "\n")
    manifest = {
        "size": size,
        "seed": seed,
        "files": n_files,
        "config_files": n_config,
        "bytes": written,
        "carriers_flagged_by_vetting": len(flagged & set(rels)),
        "vetted": do_vet,
        "secrets": sum(1 for lab in labels if lab.is_secret),
        "decoys": sum(1 for lab in labels if not lab.is_secret),
        "secret_kinds": sorted({lab.kind for lab in labels if lab.is_secret}),
        "decoy_kinds": sorted({lab.kind for lab in labels if not lab.is_secret}),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2))
    print(
        json.dumps({k: v for k, v in manifest.items() if not k.endswith("_kinds")}), file=sys.stderr
    )
    return out_dir


GIT_META = {".git", ".gitignore", ".gitattributes", ".gitmodules"}


def git_clean_tree(path: Path) -> None:
    """Make sure tools that honour .gitignore see every file: no git metadata in the tree
    (``.github/`` and other dot-directories stay: they are scanned like any other)."""
    for p in sorted(path.rglob(".git*"), reverse=True):
        if p.name not in GIT_META:
            continue
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()


VENDORED_PARENTS = ("vendor", "third_party", "node_modules")


def vendorize(src: Path, dst: Path) -> Path:
    """A copy of corpus ``src`` where every third top-level directory sits inside a committed
    ``vendor/``, ``third_party/`` or ``node_modules/`` directory (rotating), labels rewritten.

    Independent corpora put about a third of their secrets in such directories; a scanner
    that skips them by name loses that third. Files are hard-linked, not copied.
    """
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src / "tree", dst / "tree", copy_function=os.link)
    tops = sorted(p.name for p in (dst / "tree").iterdir() if p.is_dir())
    moved: dict[str, str] = {}
    for i, name in enumerate(tops[::3]):
        parent = dst / "tree" / VENDORED_PARENTS[i % len(VENDORED_PARENTS)]
        parent.mkdir(exist_ok=True)
        (dst / "tree" / name).rename(parent / name)
        moved[name + "/"] = f"{parent.name}/{name}/"
    with (src / "labels.jsonl").open() as fin, (dst / "labels.jsonl").open("w") as fout:
        for line in fin:
            lab = json.loads(line)
            for old, new in moved.items():
                if lab["file"].startswith(old):
                    lab["file"] = new + lab["file"][len(old) :]
                    break
            fout.write(json.dumps(lab) + "\n")
    manifest = json.loads((src / "manifest.json").read_text())
    manifest["vendored_dirs"] = sorted(moved.values())
    (dst / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return dst


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--no-vet", action="store_true", help="skip peer vetting of carriers")
    args = ap.parse_args(argv)
    out = generate(args.size, args.seed, not args.no_vet)
    git_clean_tree(out / "tree")
    subprocess.run(["du", "-sh", str(out / "tree")], check=False)


if __name__ == "__main__":
    main()
