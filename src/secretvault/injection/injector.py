"""``Injector``: the part behind ``SecretVault.inject_secret``, ``subscribe`` and the
``inject``/``render``/``run`` commands.

Every injection has the operation shape (``core.operations``): the value is read through the
facade's ``get_secret`` (RBAC and a read entry in the audit trail), delivered (environment,
file, rendered template), then the binding is recorded and an ``inject`` entry appended in one
unit. A delivery that fails writes nothing and is audited as a failure. Audit entries name the
target and the way, never the value.
"""

from __future__ import annotations

import os
import signal as signals
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from secretvault.backends.base import Binding
from secretvault.errors import InjectionError, InvalidArgumentError, SecretVaultError
from secretvault.injection import files
from secretvault.injection.bindings import merged, spec_of
from secretvault.injection.env import check_env_name
from secretvault.models import InjectionType
from secretvault.validation import validate_name

if TYPE_CHECKING:
    # Loaded when first used: ``secretvault run`` needs neither jinja2 nor asyncio.
    from secretvault.config import SecretsConfig
    from secretvault.core.operations import Operations
    from secretvault.injection.reload import Callback, Reloader, Subscription

#: Reads a secret's value for ``user`` (the facade's ``get_secret``: RBAC + audit).
ReadValue = Callable[[str, str, int | None], Awaitable[str]]

_OPTIONS = {
    "file_permissions",
    "allow_symlink",
    "allow_world_writable",
    "signal",
    "pid",
    "pidfile",
    "template_path",
    "output_path",
}


class Injector:
    """Delivers secrets to targets and keeps them fresh (module docstring)."""

    def __init__(self, ops: Operations, config: SecretsConfig, read: ReadValue) -> None:
        self.ops = ops
        self.config = config
        self.read = read
        self._reloader: Reloader | None = None
        #: Targets whose files, templates and signals this process keeps fresh.
        self.live_targets: dict[str, str] = {}  # target -> user whose rights re-read values
        #: Live targets whose variables belong to a child (``run --watch``), not this process.
        self.env_elsewhere: set[str] = set()

    @property
    def reloader(self) -> Reloader:
        """The change watcher (created on first use)."""
        if self._reloader is None:
            from secretvault.injection.reload import Reloader

            self._reloader = Reloader(self.ops, self._changed)
        return self._reloader

    # -- inject_secret -----------------------------------------------------------------------

    async def inject(
        self,
        secret_name: str,
        injection_type: InjectionType | str,
        target: str,
        env_var_name: str | None = None,
        file_path: str | Path | None = None,
        template_pattern: str | None = None,
        restart_required: bool = True,
        user: str = "system",
        **options: Any,
    ) -> bool:
        """The guide's ``inject_secret`` (docs/injection.md says what each type does)."""
        validate_name(secret_name)
        kind = _kind(injection_type)
        unknown = set(options) - _OPTIONS
        if unknown:
            raise InvalidArgumentError(
                f"unknown inject_secret option(s): {', '.join(sorted(unknown))}",
                hint=f"known: {', '.join(sorted(_OPTIONS))}",
            )
        if not target or not target.strip():
            raise InjectionError("inject_secret needs a target", hint='e.g. target="my-app"')
        try:
            parts = await self._deliver(
                secret_name, kind, target, env_var_name, file_path, template_pattern, user, options
            )
        except SecretVaultError as exc:
            await self.ops.record_failure("inject", user, secret_name, exc, None)
            raise
        parts["restart"] = restart_required
        template = parts.get("template") or {}
        # The template's other secrets are bound too, so a change to any of them re-renders it.
        uses: list[str] = template.pop("_uses", [])
        async with self.ops.unit() as unit:
            old = await _binding(unit.control, target, secret_name)
            await unit.control.binding_put(merged(old, target, secret_name, kind.value, **parts))
            for other in uses:
                prev = await _binding(unit.control, target, other)
                before = spec_of(prev).get("template") or {}
                tpl = {**template, "placeholder": before.get("placeholder")}
                await unit.control.binding_put(
                    merged(prev, target, other, prev.kind if prev else kind.value, template=tpl)
                )
            await self.ops.audit.append(
                unit.control, "inject", user, secret_name, reason=f"{kind.value} -> {target}"
            )
        if kind == InjectionType.DYNAMIC_UPDATE:
            await self.follow(target, user)
        elif target in self.live_targets:
            for name in (secret_name, *uses):
                self.reloader.track(name)
        return True

    async def _deliver(
        self,
        name: str,
        kind: InjectionType,
        target: str,
        env_var_name: str | None,
        file_path: str | Path | None,
        template_pattern: str | None,
        user: str,
        options: dict[str, Any],
    ) -> dict[str, Any]:
        """Deliver the value the way ``kind`` says; return the spec parts to record."""
        parts: dict[str, Any] = {}
        if kind == InjectionType.ENV_VAR or (kind == InjectionType.DYNAMIC_UPDATE and env_var_name):
            if not env_var_name:
                raise InjectionError(
                    "ENV_VAR injection needs env_var_name", hint='e.g. env_var_name="API_KEY"'
                )
            check_env_name(env_var_name)
            os.environ[env_var_name] = await self.read(name, user, None)
            parts["env"] = env_var_name
        if kind == InjectionType.TEMPLATE_REFERENCE or template_pattern:
            parts["template"] = await self._template(
                name, target, file_path, template_pattern, user, options
            )
        elif kind == InjectionType.FILE_MOUNT or (
            kind == InjectionType.DYNAMIC_UPDATE and file_path
        ):
            if not file_path:
                raise InjectionError(
                    "FILE_MOUNT injection needs file_path",
                    hint='e.g. file_path="/etc/secrets/tls.crt"',
                )
            spec = {
                "path": str(Path(file_path).absolute()),
                "mode": oct(files.parse_mode(options.get("file_permissions"))),
                "allow_symlink": bool(options.get("allow_symlink", False)),
                "allow_world_writable": bool(options.get("allow_world_writable", False)),
            }
            await self._write_file(name, spec, user)
            parts["file"] = spec
        if kind == InjectionType.DYNAMIC_UPDATE:
            notify = {k: options[k] for k in ("signal", "pid", "pidfile") if options.get(k)}
            if notify:
                notify.setdefault("signal", "SIGHUP")
                parse_signal(str(notify["signal"]))
                parts["notify"] = notify
        return parts

    async def _write_file(self, name: str, spec: dict[str, Any], user: str) -> Path:
        value = await self.read(name, user, None)
        return files.atomic_write(
            Path(spec["path"]),
            value.encode("utf-8"),
            int(str(spec.get("mode") or "0o400"), 8),
            allow_symlink=bool(spec.get("allow_symlink")),
            allow_world_writable=bool(spec.get("allow_world_writable")),
            scan_on_write=self.config.scan_on_write,
        )

    async def _template(
        self,
        name: str,
        target: str,
        file_path: str | Path | None,
        template_pattern: str | None,
        user: str,
        options: dict[str, Any],
    ) -> dict[str, Any]:
        """Map the placeholder to the secret and render the target's template, if it has one.

        The template is ``file_path`` (or ``template_path``) when given, else the one an
        earlier injection bound to ``target``; with neither, only the mapping is recorded and
        the next ``render``/``inject`` of the target uses it.
        """
        placeholder = _placeholder(template_pattern) if template_pattern else None
        given = options.get("template_path") or file_path
        source: Path | None = Path(given).absolute() if given else None
        output = options.get("output_path")
        if source is None:
            source, bound_output = await self.template_of(target)
            output = output or bound_output
        mode = oct(files.parse_mode(options.get("file_permissions")))
        spec: dict[str, Any] = {
            "placeholder": placeholder,
            "source": str(source) if source else None,
            "output": str(Path(output).absolute()) if output else None,
            "mode": mode,
        }
        if source is not None:
            extra = {placeholder: name} if placeholder else {}
            out, used = await self.render_file(
                source,
                Path(output) if output else None,
                target=target,
                user=user,
                extra_mapping=extra,
                mode=int(mode, 8),
            )
            spec["output"] = str(out)
            spec["_uses"] = sorted(set(used) - {name})
        return spec

    # -- templates ---------------------------------------------------------------------------

    async def template_of(self, target: str) -> tuple[Path | None, str | None]:
        """The template file (and output) an earlier injection bound to ``target``."""
        for b in await self.bindings(target):
            tpl = spec_of(b).get("template") or {}
            if tpl.get("source"):
                return Path(tpl["source"]), tpl.get("output")
        return None, None

    async def mapping(self, target: str | None) -> dict[str, str]:
        """Placeholder → secret name, from ``target``'s template bindings."""
        if target is None:
            return {}
        out: dict[str, str] = {}
        for b in await self.bindings(target):
            tpl = spec_of(b).get("template") or {}
            if tpl.get("placeholder"):
                out[tpl["placeholder"]] = b.secret_name
        return out

    async def render_file(
        self,
        source: Path,
        output: Path | None = None,
        *,
        target: str | None = None,
        user: str = "system",
        extra_mapping: dict[str, str] | None = None,
        mode: int = files.DEFAULT_FILE_MODE,
    ) -> tuple[Path, list[str]]:
        """Render ``source`` into ``output`` (default ``<stem>.injected<suffix>``), all or
        nothing; returns the output and the secret names used."""
        text = files.read_text(
            source, "template", "give the template's path (file_path=..., or `render FILE`)"
        )
        from secretvault.injection import templates

        out = output or templates.output_path(source)
        if out.absolute() == source.absolute():
            raise InjectionError(
                f"refusing to render {source} over itself", hint="choose another output path"
            )
        used: list[str] = []

        async def read(secret: str) -> str:
            value = await self.read(secret, user, None)
            used.append(secret)
            return value

        mapping = {**await self.mapping(target), **(extra_mapping or {})}
        rendered = await templates.render(
            text, read, mapping=mapping, output=out, where=str(source)
        )
        files.atomic_write(
            out, rendered.encode("utf-8"), mode, scan_on_write=self.config.scan_on_write
        )
        return out, used

    # -- targets -----------------------------------------------------------------------------

    async def bindings(
        self, target: str | None = None, secret_name: str | None = None
    ) -> list[Binding]:
        """Recorded bindings (no values)."""
        async with self.ops.stores.control.transaction() as ctl:
            return await ctl.bindings(target, secret_name)

    async def env_for(self, target: str, user: str = "system") -> dict[str, str]:
        """Variable → value for every environment binding of ``target`` (for a child)."""
        env: dict[str, str] = {}
        for b in await self.bindings(target):
            var = spec_of(b).get("env")
            if var:
                env[var] = await self.read(b.secret_name, user, None)
        return env

    async def apply_target(self, target: str, user: str = "system") -> list[Path]:
        """Write every file and render every template bound to ``target``; returns the paths.
        Environment bindings are for ``secretvault run --target`` (another process's
        environment cannot be changed from here)."""
        bound = await self.bindings(target)
        if not bound:
            raise InjectionError(
                f"target {target!r} has no bindings",
                hint="record some with inject_secret(..., target=...) first",
            )
        written: list[Path] = []
        sources: set[tuple[str, str | None, str]] = set()
        for b in bound:
            spec = spec_of(b)
            if spec.get("file"):
                written.append(await self._write_file(b.secret_name, spec["file"], user))
            tpl = spec.get("template") or {}
            if tpl.get("source"):
                sources.add((tpl["source"], tpl.get("output"), tpl.get("mode") or "0o400"))
        for source, output, mode in sorted(sources, key=str):
            out, _ = await self.render_file(
                Path(source),
                Path(output) if output else None,
                target=target,
                user=user,
                mode=int(mode, 8),
            )
            written.append(out)
        return written

    # -- live updates ------------------------------------------------------------------------

    def subscribe(self, name: str, callback: Callback) -> Subscription:
        """Call ``callback`` (sync or async; given the secret's name if it takes an argument)
        whenever ``name`` changes, in this process or any other."""
        validate_name(name)
        return self.reloader.subscribe(name, callback)

    async def follow(self, target: str, user: str = "system", *, set_env: bool = True) -> None:
        """Keep ``target``'s files, templates and signals fresh from this process (and, unless
        ``set_env`` is False, its environment variables in this process)."""
        self.live_targets[target] = user
        if not set_env:
            self.env_elsewhere.add(target)
        for b in await self.bindings(target):
            self.reloader.track(b.secret_name)
        self.reloader.start()

    async def _changed(self, name: str) -> None:
        """A watched secret changed: re-deliver it to each live target, then notify."""
        for b in await self.bindings(secret_name=name):
            user = self.live_targets.get(b.target)
            if user is None:
                continue
            spec = spec_of(b)
            if spec.get("env") and b.target not in self.env_elsewhere:
                # this process is the application: hot-reload its variable
                os.environ[spec["env"]] = await self.read(name, user, None)
            if spec.get("file"):
                await self._write_file(name, spec["file"], user)
            tpl = spec.get("template") or {}
            if tpl.get("source"):
                await self.render_file(
                    Path(tpl["source"]),
                    Path(tpl["output"]) if tpl.get("output") else None,
                    target=b.target,
                    user=user,
                    mode=int(tpl.get("mode") or "0o400", 8),
                )
            notify = spec.get("notify")
            if notify:
                send_signal(notify)

    async def close(self) -> None:
        """Stop watching."""
        if self._reloader is not None:
            await self._reloader.stop()


def _kind(value: InjectionType | str) -> InjectionType:
    try:
        return InjectionType(value)
    except ValueError:
        raise InvalidArgumentError(
            f"unknown injection type {value!r}",
            hint=f"use one of {', '.join(t.name for t in InjectionType)}",
        ) from None


def _placeholder(pattern: str) -> str:
    """``"{{ POSTGRES_PASSWORD }}"`` (or the bare name) → ``POSTGRES_PASSWORD``."""
    from secretvault.injection import templates

    bare, called = templates.placeholders(pattern, "template_pattern")
    if len(bare) == 1 and not called:
        return next(iter(bare))
    raise InjectionError(
        f"template_pattern {pattern!r} is not one placeholder",
        hint='write it as in the template, e.g. "{{ POSTGRES_PASSWORD }}"',
    )


async def _binding(ctl: Any, target: str, name: str) -> Binding | None:
    found: list[Binding] = await ctl.bindings(target, name)
    return found[0] if found else None


def parse_signal(name: str) -> signals.Signals:
    """``"SIGHUP"``, ``"HUP"`` or ``"1"`` → the signal."""
    text = name.strip().upper()
    try:
        if text.isdigit():
            return signals.Signals(int(text))
        return signals.Signals[text if text.startswith("SIG") else "SIG" + text]
    except (KeyError, ValueError):
        raise InjectionError(f"unknown signal {name!r}", hint="e.g. SIGHUP or USR1") from None


def send_signal(notify: dict[str, Any]) -> int | None:
    """Send the configured signal to ``pid`` or the pid in ``pidfile``; the pid, or None when
    there is nobody to tell (a stale pidfile is not an error: the process restarts with the
    new value anyway)."""
    pid = notify.get("pid")
    if notify.get("pidfile"):
        try:
            pid = int(Path(notify["pidfile"]).read_text().strip())
        except (OSError, ValueError):
            return None
    if not pid:
        return None
    try:
        os.kill(int(pid), parse_signal(str(notify.get("signal", "SIGHUP"))))
    except ProcessLookupError:
        return None
    return int(pid)
