"""The plotting library, bundled once into every report: Vega, Vega-Lite and vega-embed as one script from
vl-convert (which ships them). vl-convert takes about ten seconds to bundle them, so the bundle is kept in a
cache folder keyed by vl-convert's version; later reports read it back in milliseconds."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from slotune.files import cache_dir

# What the page's own script uses: vega-embed (which compiles Vega-Lite and draws with Vega).
SNIPPET = "window.vegaEmbed = vegaEmbed; window.vega = vega;"


@dataclass(frozen=True, slots=True)
class Bundle:
    script: str
    versions: str  # "Vega 6.2.0, Vega-Lite 6.4, vega-embed 7.0.2"
    cached: bool  # read from the cache (False: bundled just now)


def _safe_in_script(js: str) -> str:
    """Nothing in the library's text may close the <script> element that holds it."""
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)


def bundle_path() -> Path:
    """Where the bundle is cached: named by vl-convert's version and the snippet that exposes the library."""
    import vl_convert as vlc

    tag = hashlib.sha256(SNIPPET.encode()).hexdigest()[:10]
    return cache_dir() / f"vega-bundle-vl-convert-{getattr(vlc, '__version__', 'unknown')}-{tag}.js"


def vega_bundle() -> Bundle:
    import vl_convert as vlc

    versions = (
        f"Vega {vlc.get_vega_version()}, Vega-Lite {vlc.get_vegalite_versions()[-1]}, "
        f"vega-embed {vlc.get_vega_embed_version()}"
    )
    path = bundle_path()
    if path.is_file():
        return Bundle(path.read_text(encoding="utf-8"), versions, cached=True)
    script = _safe_in_script(vlc.javascript_bundle(SNIPPET))
    try:  # a cache that cannot be written only costs the next report the same ten seconds
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(script, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass
    return Bundle(script, versions, cached=False)
