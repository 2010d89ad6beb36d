"""The import's error: a source that cannot be read at all, said in the user's language."""

from __future__ import annotations

from typing import Any

from pianqu.errors import PianquError


class IngestError(PianquError, ValueError):
    """A source that cannot be imported.

    The message names the file, the layer, the feature and the field where they are known, and
    says what to do. ``rule`` is the message key in ``pianqu/locales/ingest.toml`` (``rule.msg``
    and ``rule.do``); ``params`` hold the values it is rendered with (a :class:`pianqu.errors.Phrase`
    among them is said in the same language), see :class:`pianqu.errors.PianquError`.
    """

    def __init__(self, rule: str, lang: str | None = None, **params: Any):
        params = {"source": "", "source_layer": "", "feature": "", "field": "", **params}
        self.file = str(params["source"])
        self.layer = str(params["source_layer"])
        self.feature = str(params["feature"])
        self.field = str(params["field"])
        super().__init__(rule, lang, **params)


# The name the issue text uses.
ImportError_ = IngestError
