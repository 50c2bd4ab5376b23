"""JUnit XML of a suite run: one testcase per check x board, the facts as properties, a
failure (check failed) or error (board unavailable) element carrying the reason."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from .result import ERROR, FAIL, CheckResult, SuiteResult


def _properties(r: CheckResult) -> dict[str, str]:
    def ms(value: float | None) -> str:
        return "" if value is None else f"{value:.6g}"

    return {
        "board": r.board,
        "model": r.model,
        "timing": r.timing_label,
        "emulated": str(r.emulated).lower(),
        "timing_note": r.timing_note,
        "latency_ms": ms(r.latency_ms),
        "round_medians_ms": " ".join(ms(m) for m in r.round_medians_ms),
        "baseline_ms": ms(r.baseline_ms),
        "limit_ms": ms(r.limit_ms),
        "threshold_pct": f"{r.threshold_pct:g}",
        "rounds": str(r.rounds),
        "repeat": str(r.repeat),
        "trials": str(r.trials),
        "tuned_tasks": "" if r.tuned_tasks is None else f"{r.tuned_tasks}/{r.total_tasks}",
        "numerics": "; ".join(r.numerics),
        "reference": r.reference,
        "artifact": r.artifact,
        **{key: _fact(value) for key, value in r.facts.items()},
    }


def _fact(value: object) -> str:
    """A fact as a property string (None: unknown; a share of cores to two decimals)."""
    if value is None:
        return "unknown"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def junit_xml(run: SuiteResult) -> str:
    counts = run.counts
    suite = ET.Element(
        "testsuite",
        name=f"edgetune ci {run.suite}",
        tests=str(len(run.results)),
        failures=str(counts[FAIL]),
        errors=str(counts[ERROR]),
        time=f"{sum(r.seconds for r in run.results):.3f}",
    )
    for r in run.results:
        case = ET.SubElement(
            suite, "testcase", classname=f"edgetune.ci.{r.board}", name=f"{r.check} on {r.board}",
            time=f"{r.seconds:.3f}",
        )  # fmt: skip
        props = ET.SubElement(case, "properties")
        for name, value in _properties(r).items():
            ET.SubElement(props, "property", name=name, value=value)
        if r.status in (FAIL, ERROR):
            tag = "failure" if r.status == FAIL else "error"
            element = ET.SubElement(case, tag, message=r.reasons[0], type=r.status)
            element.text = "\n".join(r.reasons)
        elif r.reasons:
            ET.SubElement(case, "system-out").text = "\n".join(r.reasons)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
