"""Pages read in a browser: the patient handout (cards/handouts/), and Markdown as an EHR renders a card's detail.

Both are static HTML with no script: the wording lives in cards/handouts/ as Markdown, so a reviewer edits it without
touching Python."""

from __future__ import annotations

from pathlib import Path

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

# CommonMark with GitHub's tables and strikethrough; raw HTML is never passed through (a card's detail has none).
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
# Served with every page here: nothing runs, nothing is fetched from elsewhere.
PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def markdown_html(text: str) -> Markup:
    """Markdown (a card's detail, a handout) as HTML."""
    return Markup(_MARKDOWN.render(text))


def handout_markdown(cards_dir: Path, name: str = "neutropenia") -> str:
    return (cards_dir / "handouts" / f"{name}.md").read_text(encoding="utf-8")


def handout_page(cards_dir: Path, name: str = "neutropenia") -> str:
    """The printable patient handout: its Markdown in the handout page (cards/handouts/page.html)."""
    text = handout_markdown(cards_dir, name)
    title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), name)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(cards_dir / "handouts")), autoescape=True)
    return env.get_template("page.html").render(title=title, body=markdown_html(text))
