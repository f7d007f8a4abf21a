"""Every user-visible string is marked for translation, and the Italian
catalogue translates all of them.

The template check reads each template with Django's own lexer: text outside
{% translate %}/{% blocktranslate %} that still contains words is a string a
translator never saw. The Python check walks the code's syntax tree for the
places that reach users (messages, validation errors, form labels, choices).
"""

import ast
import html
import re
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.template.base import Lexer, TokenType
from django.utils import translation

from agreements.models import TopupMode

ROOT = Path(settings.BASE_DIR)
TEMPLATES = sorted(p for p in (ROOT / "templates").rglob("*") if p.suffix in {".html", ".txt"})
CATALOGUE = ROOT / "locale" / "it" / "LC_MESSAGES" / "django.po"

# Words that read the same in every language: names and acronyms.
SAME_IN_EVERY_LANGUAGE = {
    "Blockhours",
    "PDF",
    "CSV",
    "API",
    "MSA",
    "ID",
    "UUID",
    "Swagger",
    "ReDoc",
    "OpenAPI",
    "JSON",
    "IBAN",
}
# Attributes whose values people read or hear.
VISIBLE_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "aria-description")

_WORD = re.compile(r"[^\W\d_]{2,}")
_TAG = re.compile(r"<[^>]*>", re.S)
_ATTRIBUTE = re.compile(r"""\b({})\s*=\s*(["'])(.*?)\2""".format("|".join(VISIBLE_ATTRIBUTES)), re.S)
_STRING_LITERAL = re.compile(r"""(?<![\w.])(["'])((?:(?!\1).)*)\1""")
_TRANSLATED_LITERAL = re.compile(r"""_\((["']).*?\1\)""")
# Block tags whose string arguments are names (templates, URLs, libraries), not text.
_NAME_TAGS = {"url", "load", "extends", "include", "static", "block", "now", "csrf_token", "cycle", "firstof"}


def _words(text: str) -> list[str]:
    return [word for word in _WORD.findall(html.unescape(text)) if word not in SAME_IN_EVERY_LANGUAGE]


def _untranslated_in(path: Path) -> list[str]:
    """Words in the template's text that no translation tag covers, and text
    literals in tag and variable arguments (`default:"Never"`, `with label="…"`)."""
    found = []
    text = []  # the template's text, each tag replaced by a blank
    skipping = None  # the tag that ends the part we skip
    for token in Lexer(path.read_text()).tokenize():
        content = token.contents.strip()
        if skipping:
            if token.token_type == TokenType.BLOCK and content.split()[0] == skipping:
                skipping = None
            continue
        if token.token_type == TokenType.TEXT:
            text.append(token.contents)
            continue
        text.append(" ")
        if token.token_type == TokenType.VAR:
            found += _literals_in(content, token.lineno)
        elif token.token_type == TokenType.BLOCK:
            name = content.split()[0]
            if name in {"blocktranslate", "blocktrans"}:
                skipping = "end" + name
            elif name == "comment":
                skipping = "endcomment"
            elif name == "include" and " with " in content:  # `with label="…"` arguments are text
                found += _literals_in(content.split(" with ", 1)[1], token.lineno)
            elif name not in _NAME_TAGS | {"translate", "trans"}:
                found += _literals_in(content, token.lineno)
    page = re.sub(r"<!--.*?-->|<(style|script)\b.*?</\1>", " ", "".join(text), flags=re.S)
    visible = " ".join(match.group(3) for match in _ATTRIBUTE.finditer(page))
    for line in (_TAG.sub(" ", page) + "\n" + visible).splitlines():
        if _words(line):
            found.append(" ".join(line.split())[:100])
    return found


def _literals_in(content: str, lineno: int) -> list[str]:
    content = _TRANSLATED_LITERAL.sub("", content)
    found = []
    for match in _STRING_LITERAL.finditer(content):
        literal = match.group(2)
        # Text starts with a capital or holds a space; names, keys and formats don't.
        is_text = (" " in literal.strip() or re.match(r"[A-Z][a-z]", literal)) and _words(literal)
        if is_text and not re.fullmatch(r"[\w:.\-/ ]*\.(html|txt)", literal) and "%" not in literal:
            found.append(f"line {lineno}: literal {literal!r}")
    return found


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT / "templates")))
def test_it_marks_every_visible_string_of_each_template(path):
    assert _untranslated_in(path) == []


# --------------------------------------------------------------------------
# Python code

APP_DIRS = [
    "accounts",
    "agreements",
    "api",
    "audit",
    "billing",
    "dashboard",
    "notifications",
    "portal",
    "reports",
    "timesheet",
    "ui",
]
# Calls whose string arguments people read.
USER_FACING_CALLS = {"ValidationError", "success", "error", "warning", "info", "add_error", "PermissionDenied"}
USER_FACING_KEYWORDS = {"label", "help_text", "verbose_name", "verbose_name_plural", "empty_label", "placeholder"}
TRANSLATION_FUNCTIONS = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "pgettext_lazy"}


def _python_files() -> list[Path]:
    files = []
    for app in APP_DIRS:
        for path in (ROOT / app).rglob("*.py"):
            parts = set(path.relative_to(ROOT).parts)
            if not parts & {"tests", "migrations", "management"}:
                files.append(path)
    return sorted(files)


def _is_text(node: ast.AST) -> bool:
    """A plain string or f-string literal with words in it (not wrapped in a translation call)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(_words(node.value)) and not node.value.isidentifier()
    if isinstance(node, ast.JoinedStr):
        return any(_is_text(part) for part in node.values)
    if isinstance(node, ast.Dict):
        return any(_is_text(value) for value in node.values)
    if isinstance(node, ast.BinOp):  # "…" % values, "…" + "…"
        return _is_text(node.left)
    return False


def _name(func: ast.AST) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _is_log_call(func: ast.AST) -> bool:
    """`log.warning(…)`: operators' logs stay in English."""
    return isinstance(func, ast.Attribute) and getattr(func.value, "id", "") in {"log", "logger", "logging"}


def _untranslated_python(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    in_api = path.relative_to(ROOT).parts[0] == "api"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) not in TRANSLATION_FUNCTIONS:
            if _name(node.func) in USER_FACING_CALLS and not _is_log_call(node.func):
                found += [f"line {node.lineno}: {_name(node.func)}(…)" for arg in node.args if _is_text(arg)][:1]
            for keyword in node.keywords:
                if keyword.arg in USER_FACING_KEYWORDS and not (in_api and keyword.arg == "help_text"):
                    if _is_text(keyword.value):
                        found.append(f"line {node.lineno}: {keyword.arg}=…")
                if keyword.arg == "choices" and isinstance(keyword.value, (ast.List, ast.Tuple)):
                    for choice in keyword.value.elts:
                        if isinstance(choice, ast.Tuple) and len(choice.elts) == 2 and _is_text(choice.elts[1]):
                            found.append(f"line {node.lineno}: choice {ast.literal_eval(choice.elts[0])!r}")
        if isinstance(node, ast.ClassDef) and any(_name(base).endswith("Choices") for base in node.bases):
            for item in node.body:
                value = getattr(item, "value", None)
                if isinstance(item, ast.Assign) and isinstance(value, ast.Tuple) and _is_text(value.elts[-1]):
                    found.append(f"line {item.lineno}: {node.name} label")
    return found


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_it_marks_every_user_facing_string_of_the_code(path):
    assert _untranslated_python(path) == []


# --------------------------------------------------------------------------
# The Italian catalogue


def test_it_translates_every_entry_of_the_italian_catalogue():
    catalogue = polib.pofile(str(CATALOGUE))
    untranslated = [entry.msgid for entry in catalogue.untranslated_entries()]
    fuzzy = [entry.msgid for entry in catalogue.fuzzy_entries()]
    assert (untranslated, fuzzy) == ([], [])
    assert catalogue.percent_translated() == 100


def test_it_keeps_the_placeholders_of_each_message():
    """A translation that drops or renames %(name)s or {name} would crash or lie."""
    placeholder = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")
    catalogue = polib.pofile(str(CATALOGUE))
    mismatched = []
    for entry in catalogue.translated_entries():
        if entry.msgid_plural:
            pairs = [(entry.msgid_plural, text) for text in entry.msgstr_plural.values()]
        else:
            pairs = [(entry.msgid, entry.msgstr)]
        for source, text in pairs:
            if sorted(placeholder.findall(source)) != sorted(placeholder.findall(text)):
                mismatched.append(entry.msgid)
    assert mismatched == []


def test_it_loads_the_compiled_italian_catalogue():
    """The .mo files are compiled by scripts/setup; without them Italian users see English."""
    with translation.override("it"):
        assert translation.gettext("Log time") == "Registra ore"
        assert translation.gettext("Invoices") == "Fatture"


def test_it_calls_the_msps_people_personale_not_staff():
    """One word for the MSP's people throughout the Italian catalogue."""
    catalogue = polib.pofile(str(CATALOGUE))
    staff = re.compile(r"\bstaff\b", re.IGNORECASE)
    assert [
        entry.msgid for entry in catalogue if staff.search(entry.msgstr + "".join(entry.msgstr_plural.values()))
    ] == []
    with translation.override("it"):
        assert [str(TopupMode.DRAFT.label), str(TopupMode.NOTIFY.label)] == [
            "Prepara una bozza di fattura di ricarica da far verificare al personale",
            "Avvisa solo il personale e il cliente; non vendere nulla",
        ]
