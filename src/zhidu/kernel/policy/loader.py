"""Reading and validating regulation packs (packs/*.yaml).

A pack file:

    name: s01-prosthetics
    title: 德奥假肢矫形康复技术产业有限公司 客户准入与分级管理制度
    implements: [S01]
    extends: base                      # optional: another pack, by name
    apps: [customers, grading]         # optional
    effective_from: 2026-01-01         # optional
    parameters:
      customers.review_cycle_months:
        value: 6
        source: "000_097510e39fec2ee7.txt Doc5 五、3.2 L303"
      grading.vip_min_beds:            # the number is blank in the seed: no invented value
        required: true
        source: "000_097510e39fec2ee7.txt Doc5 五、2.2 a) L273"
        note: "病床位达到x张床位"

Every problem found is reported as "file:line: key: message"; a file with any problem is not loaded.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.utils import timezone
from pydantic import ValidationError

from . import registry

# The regulation sets of spec/README.md ("S01".."S32").
SYSTEM_IDS = frozenset(f"S{n:02d}" for n in range(1, 33))
# The apps of the layout in ARCHITECTURE.md that a pack may enable.
KNOWN_APPS = (
    "kernel", "org", "customers", "grading", "admission", "credit", "complaints", "service", "reception",
    "records", "staff", "sales", "exchange", "projects", "reports",
)  # fmt: skip
TOP_LEVEL_FIELDS = ("name", "title", "description", "implements", "extends", "apps", "effective_from", "parameters")
ENTRY_FIELDS = ("value", "source", "required", "note")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")
PACK_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Issue:
    file: str
    line: int | None
    key: str
    message: str

    def __str__(self):
        return f"{self.file}:{self.line if self.line else '?'}: {self.key}: {self.message}"


class PackError(Exception):
    """One or more problems in a pack (and the packs it extends)."""

    def __init__(self, issues: list[Issue]):
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


@dataclass
class Entry:
    """One parameter as a pack states it: a value (JSON form, validated) or `required` with no value."""

    key: str
    value: Any
    source: str
    required: bool = False
    note: str = ""
    pack: str = ""  # the pack that states it (a parent's name when inherited through `extends`)
    file: str = ""
    line: int | None = None

    def stored(self) -> dict:
        data = {"value": self.value, "source": self.source, "required": self.required, "pack": self.pack}
        if self.note:
            data["note"] = self.note
        return data


@dataclass
class Pack:
    name: str
    title: str
    implements: list[str]
    apps: list[str]
    parameters: dict[str, Entry]
    description: str = ""
    extends: list[str] = field(default_factory=list)  # the chain of parents, nearest first
    effective_from: dt.datetime | None = None
    file: str = ""

    def stored_parameters(self) -> dict[str, dict]:
        return {key: self.parameters[key].stored() for key in sorted(self.parameters)}

    @property
    def content_hash(self) -> str:
        content = {
            "name": self.name,
            "title": self.title,
            "implements": self.implements,
            "apps": self.apps,
            "parameters": self.stored_parameters(),
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# --- reading one file -------------------------------------------------------------------------------


def _line(node) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _mapping_items(node) -> list[tuple[Any, Any]]:
    return list(node.value) if isinstance(node, yaml.MappingNode) else []


def _child(node, name: str):
    """(key node, value node) of `name` in a mapping node, or (None, None)."""
    for key_node, value_node in _mapping_items(node):
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == name:
            return key_node, value_node
    return None, None


def _node_at(node, loc: tuple) -> Any:
    """The node a pydantic error location points at inside a value node, as deep as it can be followed."""
    for part in loc:
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        elif isinstance(node, yaml.MappingNode):
            _key, child = _child(node, str(part))
            if child is None:
                break
            node = child
        else:
            break
    return node


def _duplicate_keys(node, context: str, report) -> None:
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            top = context in ("", "parameters")
            if name in seen:
                report(_line(key_node), name if top else context, f"重复的键 {name!r}（后一个会覆盖前一个）")
            seen.add(name)
            _duplicate_keys(value_node, name if top else context, report)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _duplicate_keys(item, context, report)


def _to_datetime(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time())
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


@dataclass
class _Raw:
    name: str = ""
    title: str = ""
    description: str = ""
    implements: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)
    extends: str | None = None
    extends_line: int | None = None
    effective_from: dt.datetime | None = None
    parameters: dict[str, Entry] = field(default_factory=dict)


def read_file(path: Path) -> tuple[_Raw, list[Issue]]:
    """Parses and validates one pack file on its own (its `extends` is not followed here)."""
    shown = str(path)
    issues: list[Issue] = []

    def report(line, key, message):
        issues.append(Issue(shown, line, key, str(message)))

    raw = _Raw()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        report(None, "(file)", f"无法读取文件: {exc}")
        return raw, issues

    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        report(mark.line + 1 if mark else None, "(yaml)", f"YAML 语法错误: {exc.problem or exc}")
        return raw, issues
    finally:
        loader.dispose()

    if not isinstance(data, dict):
        report(_line(root) or 1, "(pack)", "制度包必须是一个映射（name, title, parameters …）")
        return raw, issues
    _duplicate_keys(root, "", report)

    for key_node, _value in _mapping_items(root):
        if key_node.value not in TOP_LEVEL_FIELDS:
            report(_line(key_node), str(key_node.value), f"未知字段；可用字段: {', '.join(TOP_LEVEL_FIELDS)}")

    def field_line(name):
        key_node, value_node = _child(root, name)
        return _line(value_node or key_node)

    name = data.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        report(field_line("name") or 1, "name", "缺少或无效：小写字母、数字和连字符，例如 s01-prosthetics")
    else:
        raw.name = name
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        report(field_line("title") or 1, "title", "缺少标题")
    else:
        raw.title = title.strip()
    description = data.get("description", "")
    if not isinstance(description, str):
        report(field_line("description"), "description", "必须是文本")
    else:
        raw.description = description.strip()

    raw.implements = _id_list(root, data, "implements", SYSTEM_IDS, "未知的系统编号；编号为 S01–S32（spec/README.md）", report)
    raw.apps = _id_list(root, data, "apps", frozenset(KNOWN_APPS), f"未知应用；可用: {', '.join(KNOWN_APPS)}", report)

    if "extends" in data:
        extends = data["extends"]
        if not isinstance(extends, str) or not NAME_RE.match(extends):
            report(field_line("extends"), "extends", "必须是另一个制度包的名称")
        else:
            raw.extends, raw.extends_line = extends, field_line("extends")

    if data.get("effective_from") is not None:
        raw.effective_from = _to_datetime(data["effective_from"])
        if raw.effective_from is None:
            report(field_line("effective_from"), "effective_from", "日期格式应为 YYYY-MM-DD 或 ISO 8601 时间")

    _key_node, params_node = _child(root, "parameters")
    parameters = data.get("parameters")
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        report(_line(params_node), "parameters", "必须是“参数键: {value, source}”的映射")
        parameters = {}
    for key_node, value_node in _mapping_items(params_node):
        entry = _read_entry(key_node, value_node, parameters, raw.name, shown, report)
        if entry is not None:
            raw.parameters[entry.key] = entry
    return raw, issues


def _id_list(root, data, name, allowed, unknown_message, report) -> list[str]:
    if name not in data or data[name] is None:
        return []
    _key_node, node = _child(root, name)
    values = data[name]
    if not isinstance(values, list):
        report(_line(node), name, "必须是列表，例如 [S01]")
        return []
    result = []
    for index, value in enumerate(values):
        if not isinstance(value, str) or value not in allowed:
            report(_line(node.value[index]), name, f"{value!r}: {unknown_message}")
        elif value not in result:
            result.append(value)
    return result


def _read_entry(key_node, value_node, parameters: dict, pack_name: str, shown: str, report) -> Entry | None:
    key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
    key_line = _line(key_node)
    if not isinstance(key, str) or key not in parameters:
        report(key_line, str(key), "参数键必须是文本")
        return None
    declared = registry.params()
    if key not in declared:
        hint = difflib.get_close_matches(key, declared.keys(), n=1)
        report(key_line, key, "未知参数：没有已安装的应用声明此参数" + (f"（是否为 {hint[0]}？）" if hint else ""))
        return None
    spec = parameters[key]
    if not isinstance(spec, dict):
        report(_line(value_node), key, "必须写成 {value: …, source: …}，或 {required: true, source: …}")
        return None
    ok = True
    for field_key, _field_value in _mapping_items(value_node):
        if field_key.value not in ENTRY_FIELDS:
            report(_line(field_key), key, f"未知字段 {field_key.value!r}；可用: {', '.join(ENTRY_FIELDS)}")
            ok = False

    source = spec.get("source")
    if source is None:
        report(key_line, key, "缺少 source：须注明出处（种子文件、条款、行号）")
        ok = False
    elif not isinstance(source, str) or not source.strip():
        report(_line(_child(value_node, "source")[1]), key, "source 必须是非空文本（种子文件、条款、行号）")
        ok = False
    note = spec.get("note", "")
    if not isinstance(note, str):
        report(_line(_child(value_node, "note")[1]), key, "note 必须是文本")
        ok = False

    required = spec.get("required", False)
    if not isinstance(required, bool):
        report(_line(_child(value_node, "required")[1]), key, "required 必须是 true 或 false")
        return None
    if required and "value" in spec:
        report(_line(_child(value_node, "value")[0]), key, "required: true 的参数不在制度包中给值（原文数值空缺）；请去掉 value 或去掉 required")
        return None
    if not required and "value" not in spec:
        report(key_line, key, "缺少 value（原文数值空缺时写 required: true 并注明 source）")
        return None

    value = None
    if not required:
        param = declared[key]
        value_field_node = _child(value_node, "value")[1]
        try:
            value = param.dump(param.validate(spec["value"]))
        except ValidationError as exc:
            for error in exc.errors()[:3]:
                loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and "[" in part))
                where = "/".join(str(part) for part in loc)
                report(
                    _line(_node_at(value_field_node, loc)),
                    key,
                    f"类型不符（应为 {param.type_name}）: {error['msg']}" + (f"（位置 {where}）" if where else ""),
                )
            return None
    if not ok:
        return None
    return Entry(key, value, source.strip(), required, note.strip(), pack_name, shown, key_line)


# --- finding packs and following `extends` ----------------------------------------------------------


def packs_dir() -> Path:
    return Path(settings.PACKS_DIR)


def _pack_name_of(path: Path) -> str | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return data.get("name") if isinstance(data, dict) else None


def find(name: str, near: Path | None = None) -> Path | None:
    """The file of the pack called `name`: `<name>.yaml` beside the pack that asks (if any), then in
    settings.PACKS_DIR; failing that, any pack file there whose `name:` is `name`."""
    directories = []
    for directory in (near, packs_dir()):
        if directory is not None and directory.is_dir() and directory.resolve() not in [d.resolve() for d in directories]:
            directories.append(directory)
    for directory in directories:
        for suffix in PACK_SUFFIXES:
            candidate = directory / f"{name}{suffix}"
            if candidate.is_file():
                return candidate
    for directory in directories:
        for candidate in sorted(directory.iterdir()):
            if candidate.suffix in PACK_SUFFIXES and _pack_name_of(candidate) == name:
                return candidate
    return None


def pack_files(directory: Path | None = None) -> list[Path]:
    directory = directory or packs_dir()
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix in PACK_SUFFIXES and p.is_file())


def locate(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(PACK_SUFFIXES) or "/" in text:
        path = Path(name_or_path)
        if not path.is_file():
            raise PackError([Issue(text, None, "(file)", "文件不存在")])
        return path
    path = find(text)
    if path is None:
        raise PackError([Issue(str(packs_dir()), None, text, "找不到此名称的制度包")])
    return path


def load(name_or_path: str | Path) -> Pack:
    """Reads a pack by name (from settings.PACKS_DIR) or by path, follows `extends` (the child overrides
    its parent key by key) and validates everything. Raises PackError listing every problem."""
    return _load(locate(name_or_path), ())


def _load(path: Path, chain: tuple[tuple[Path, str], ...]) -> Pack:
    raw, issues = read_file(path)
    parent = None
    if raw.extends:
        parent_path = find(raw.extends, near=path.parent)
        here = (path.resolve(), raw.name or path.stem)
        if parent_path is None:
            issues.append(Issue(str(path), raw.extends_line, "extends", f"找不到制度包 {raw.extends!r}（在 {path.parent} 与 {packs_dir()} 中）"))
        elif parent_path.resolve() in [p for p, _n in (*chain, here)]:
            names = " → ".join([n for _p, n in (*chain, here)] + [raw.extends])
            issues.append(Issue(str(path), raw.extends_line, "extends", f"循环继承: {names}"))
        else:
            try:
                parent = _load(parent_path, (*chain, here))
            except PackError as exc:
                issues.extend(exc.issues)
    if issues:
        raise PackError(issues)

    parameters = dict(parent.parameters) if parent else {}
    parameters.update(raw.parameters)
    apps = list(parent.apps) if parent else []
    apps += [app for app in raw.apps if app not in apps]
    return Pack(
        name=raw.name,
        title=raw.title,
        description=raw.description,
        implements=raw.implements,
        apps=apps,
        parameters=parameters,
        extends=([parent.name, *parent.extends] if parent else []),
        effective_from=raw.effective_from,
        file=str(path),
    )


def check(paths: list[str | Path]) -> dict[str, list[Issue]]:
    """Loads each file (with the packs it extends); returns the problems found, by file as given."""
    results: dict[str, list[Issue]] = {}
    for path in paths:
        try:
            load(Path(path))
            results[str(path)] = []
        except PackError as exc:
            results[str(path)] = exc.issues
    return results
