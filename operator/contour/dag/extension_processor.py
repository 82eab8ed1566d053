"""ExtensionServiceProcessor: a placeholder in Contour's processor order.

ExtensionServices back external authorization, global rate limiting and tracing, none of which this
build translates yet, so the processor adds nothing to the DAG. It exists so the processor order is
Contour's and the feature can be filled in without touching the builder.
"""

from __future__ import annotations

from contour.dag.builder import BuildContext


class ExtensionServiceProcessor:
    def run(self, ctx: BuildContext) -> None:
        return None
