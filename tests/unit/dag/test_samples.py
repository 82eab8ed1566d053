"""The manifests users start from (config/samples, examples/quickstart) build without raising."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from contour.dag.builder import Builder, BuilderConfig
from contour.dag.cache import KubernetesCache

ROOT = Path(__file__).resolve().parents[3]
FILES = sorted(
    [*(ROOT / "config" / "samples").glob("*.yaml"), *(ROOT / "examples" / "quickstart").glob("*.yaml")]
)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_sample_builds(path: Path) -> None:
    cache = KubernetesCache()
    for doc in yaml.safe_load_all(path.read_text()):
        if isinstance(doc, dict):
            cache.insert(doc)
    Builder(BuilderConfig()).build(cache)


def test_httpproxy_sample_parses_and_is_reported() -> None:
    cache = KubernetesCache()
    for doc in yaml.safe_load_all((ROOT / "config" / "samples" / "httpproxy.yaml").read_text()):
        cache.insert(doc)
    assert cache.unparsed == {}
    result = Builder(BuilderConfig()).build(cache)
    assert {str(u.ref) for u in result.statuses if u.plural == "httpproxies"} == {
        "storefront/www-example-com",
        "blog/blog",
    }
