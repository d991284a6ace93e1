"""Sphinx configuration of the course site (``make site`` runs ``docs/build_site.py``, which stages the
sources and builds with ``-c docs``). Everything the pages load is served from the site itself."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the kit of this checkout, for the API reference

project = "qmu-kit"
author = "the qmu-kit authors"
copyright = "the qmu-kit authors (MIT licence)"
release = version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def _commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


commit = _commit()

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static/mathjax: no CDN
]
templates_path = ["_templates"]
exclude_patterns = ["**.ipynb_checkpoints", "**/*.tmp"]
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]

# The lessons arrive executed (docs/build_site.py runs them with the kit's executor): never execute here.
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no widget manager from a CDN (the staged lessons carry no widget state)
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "substitution"]
myst_substitutions = {"version": release, "commit": commit}
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "imported-members": True}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = True


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document the kit's own members only, not those its classes inherit or have generated
    (matplotlib's ``Artist.set``, scikit-learn's metadata-routing setters)."""
    module = getattr(obj, "__module__", None)
    if what in ("class", "exception") and isinstance(module, str) and not module.startswith("qmu_kit"):
        return True
    return None


#: The theme's toggles that fold a section of the navigation are empty ``<summary>`` elements: named here
#: so that a screen reader says what they do (axe-core's ``summary-name`` rule).
_TOGGLE_NAME = "Show or hide the pages of this section"


def _name_navigation_toggles(app, pagename, templatename, context, doctree):
    """Wrap the theme's navigation builders so that every empty ``<summary>`` they make gets a name."""
    for key, value in list(context.items()):
        if key.startswith("generate_") and callable(value):
            def named(*args, _generate=value, **kwargs):
                html = _generate(*args, **kwargs)
                if isinstance(html, str):
                    return html.replace("<summary><span", f'<summary aria-label="{_TOGGLE_NAME}"><span')
                for summary in getattr(html, "find_all", lambda _name: [])("summary"):  # BeautifulSoup
                    if not summary.get_text(strip=True):
                        summary["aria-label"] = _TOGGLE_NAME
                return html
            context[key] = named


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
    app.connect("html-page-context", _name_navigation_toggles, priority=900)  # after the theme's own

html_theme = "sphinx_book_theme"
html_title = f"qmu-kit {release}"
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "use_download_button": True,
    "extra_footer": f"<p>Built from qmu-kit {release} (commit {commit}).</p>",
}
html_context = {"default_mode": "light"}
