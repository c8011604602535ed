"""Record text is Markdown (the registry writes CommonMark with backslash escapes: ``\\[HbA1c\\]``, ``\\<8%``):
rendered safely for pages, flattened to plain text for terminals and page titles.

Anyone can register a trial, so record text never becomes markup of its own: raw HTML is off (shown as text),
images are off (a page makes no request), and a link is kept only when it goes to ``http(s):`` or ``mailto:``
(``javascript:``, ``data:`` and relative links stay text). Every rendered link opens with ``rel="nofollow noopener
noreferrer"``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any, Final

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

__all__ = ["markdown_block", "markdown_inline", "plain_text"]

_SAFE_LINK: Final = re.compile(r"(?:https?://|mailto:)[^\s]", re.IGNORECASE)
_LINK_REL: Final = "nofollow noopener noreferrer"
_BREAKS: Final = frozenset({"softbreak", "hardbreak"})


class _SafeMarkdown(MarkdownIt):
    """CommonMark without raw HTML or images, whose links must be absolute http(s) or mailto."""

    def validateLink(self, url: str) -> bool:
        return _SAFE_LINK.match(url.strip()) is not None


@cache
def _parser() -> MarkdownIt:
    parser = _SafeMarkdown("commonmark", {"html": False})
    parser.disable("image")
    parser.add_render_rule("link_open", _link_open)
    return parser


def _link_open(renderer: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    tokens[idx].attrSet("rel", _LINK_REL)
    return str(renderer.renderToken(tokens, idx, options, env))


def markdown_block(text: object) -> Markup:
    """Paragraphs, lists and emphasis as HTML; a single paragraph without its ``<p>``, so it fits in a list item."""
    source = str(text or "")
    tokens = _parser().parse(source)
    if [token.type for token in tokens] == ["paragraph_open", "inline", "paragraph_close"]:
        return markdown_inline(source.strip())
    return Markup(_parser().renderer.render(tokens, _parser().options, {}))


def markdown_inline(text: object) -> Markup:
    """Emphasis, code and links of one line of text (titles, labels), escapes removed; no block structure."""
    return Markup(_parser().renderInline(str(text or "")))


def plain_text(text: object) -> str:
    """The text a reader sees, without markup: escapes removed, emphasis markers and link targets dropped."""
    tokens = _parser().parseInline(str(text or ""))
    return "".join(_plain(child) for token in tokens for child in token.children or [])


def _plain(token: Token) -> str:
    if token.type in _BREAKS:
        return "\n"
    return token.content if token.type in ("text", "code_inline") else ""
