"""What the chapters show: notices and plots that several chapters draw the same way."""

from __future__ import annotations

__all__ = ["notice"]


def notice(title: str, body: str, *, command: str | None = None, kind: str = "warning"):
    """A visible box for a chapter (an IPython HTML display object, styled as a Sphinx
    admonition), e.g. to say that pretrained weights are missing and how to get them.

    ``body`` is plain text (escaped; blank lines separate paragraphs, line breaks are kept);
    ``command`` is shown as a code block.
    """
    import html

    from IPython.display import HTML

    paras = "".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.strip().splitlines()) + "</p>"
        for p in body.strip().split("\n\n")
        if p.strip()
    )
    code = f"<pre>{html.escape(command)}</pre>" if command else ""
    return HTML(
        f'<div class="admonition {html.escape(kind)}">'
        f'<p class="admonition-title">{html.escape(title)}</p>{paras}{code}</div>'
    )
