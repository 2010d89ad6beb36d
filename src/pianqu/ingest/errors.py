"""The import's error: a source that cannot be read at all, said in the user's language."""

from __future__ import annotations

from typing import Any

from pianqu.i18n import t


class IngestError(ValueError):
    """A source that cannot be imported.

    The message names the file, the layer, the feature and the field where they are known, and
    says what to do. ``rule`` is the message key in ``pianqu/locales/ingest.toml``; ``params``
    hold the values it was rendered with.
    """

    def __init__(self, rule: str, lang: str | None = None, **params: Any):
        self.rule = rule
        self.params = {"source": "", "source_layer": "", "feature": "", "field": "", **params}
        params = self.params
        self.file = str(params.get("source", ""))
        self.layer = str(params.get("source_layer", ""))
        self.feature = str(params.get("feature", ""))
        self.field = str(params.get("field", ""))
        super().__init__(self.message(lang))

    def message(self, lang: str | None = None) -> str:
        return f"{t(rule_key(self.rule, 'msg'), lang, **self.params)} {t(rule_key(self.rule, 'do'), lang, **self.params)}"


def rule_key(rule: str, part: str) -> str:
    return f"{rule}.{part}"


# The name the issue text uses.
ImportError_ = IngestError
