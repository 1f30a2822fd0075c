"""PDF from the report's HTML with WeasyPrint (pure Python on top of Pango; no browser, no network)."""

from __future__ import annotations

from pathlib import Path

from deepfake_gui.core.errors import LayerScopeError


def weasyprint_problem() -> str | None:
    """Why WeasyPrint cannot run here (not installed, Pango missing), or None when it can."""
    from PIL import ImageFile

    keep = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        import weasyprint  # noqa: F401
    except ImportError:
        return "WeasyPrint is not installed (pip install weasyprint)"
    except OSError as exc:  # its system libraries (Pango) are missing
        return f"WeasyPrint cannot load its system libraries ({exc}); install Pango (libpango-1.0-0 libpangoft2-1.0-0)"
    finally:
        # WeasyPrint sets Pillow's LOAD_TRUNCATED_IMAGES = True for the whole process on import: a truncated
        # evidence file would then decode silently instead of being reported. Our report images are complete.
        ImageFile.LOAD_TRUNCATED_IMAGES = keep
    return None


def html_to_pdf(html: str, out: str | Path) -> Path:
    """Lay the HTML out as A4 pages. The HTML embeds everything, so no URL is ever fetched."""
    problem = weasyprint_problem()
    if problem:
        raise LayerScopeError(f"{out}: cannot write a PDF: {problem}; write an .html report instead")
    import weasyprint

    out = Path(out)
    weasyprint.HTML(string=html, url_fetcher=_data_only_fetcher()).write_pdf(out)
    return out


def _data_only_fetcher():
    """Only data: URLs: attacker-controlled content must not make the renderer read files or the network."""
    try:
        from weasyprint.urls import URLFetcher  # WeasyPrint >= 68
    except ImportError:
        from weasyprint import default_url_fetcher

        def fetch(url: str, *args, **kwargs):
            if not url.startswith("data:"):
                raise ValueError(f"a report fetches nothing: {url[:80]}")
            return default_url_fetcher(url, *args, **kwargs)

        return fetch
    return URLFetcher(allowed_protocols=["data"])
