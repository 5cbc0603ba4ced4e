"""The ANC trend chart: the patient's counts over time against the lower limit for age, the severity bands, the
chemotherapy doses and the fever readings -- drawn with matplotlib as an inline SVG (no script, works offline).

Each drawn series has an SVG id, `{chart_id}-anc` (one marker a count measured), `{chart_id}-anc-at-most` (one marker
an upper bound: "<300", a WBC with no differential), `{chart_id}-lln`, `{chart_id}-chemotherapy` and
`{chart_id}-fever`, so a page can be checked in a browser."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, tzinfo

from cds_service.clinical.model import Assessment
from cds_service.knowledge import Thresholds

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # matplotlib's date epoch: a date is days since it
_FIRST_DAY = (datetime(1, 1, 1, tzinfo=UTC) - _EPOCH) / timedelta(days=1)  # no axis starts before a date holds


def _day(moment: datetime) -> float:
    return (moment - _EPOCH) / timedelta(days=1)


SEVERE, MODERATE, MILD = "#d32f2f", "#ef6c00", "#f9a825"
ANC_COLOUR, LLN_COLOUR, CHEMO_COLOUR, FEVER_COLOUR = "#1565c0", "#424242", "#6a1b9a", "#c62828"


def anc_chart(assessment: Assessment, thresholds: Thresholds, chart_id: str, zone: tzinfo = UTC) -> str:
    """The chart of an assessment's dated ANCs (its look-back), as an <svg> element, its days those of `zone` (the
    site's time zone, as on the cards)."""
    import matplotlib
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    points = [(p.anc.collected_at, p) for p in assessment.history if p.anc.collected_at is not None]
    moments: list[datetime] = [at for at, _ in points]
    values = [float(p.anc.value) for _, p in points]
    limits = [float(p.limit.lln) for _, p in points]
    # a count measured is a point on the line; an upper bound ("<300", a WBC with no differential: R4) is no count,
    # only a ceiling -- a line through it would draw a rise or a fall the record does not show
    measured = [(_day(at), float(p.anc.value)) for at, p in points if p.anc.measured]
    ceilings = [(_day(at), float(p.anc.value)) for at, p in points if not p.anc.measured]
    # (a course that no date places is drawn nowhere: it is known to be given now only)
    dosed = [d.at for d in (assessment.context.doses if assessment.context else ()) if d.start_recorded]
    febrile = [r.at for r in assessment.temperatures if r.celsius >= thresholds.sustained_fever_from_c]
    times, doses, fevers = [_day(m) for m in moments], [_day(m) for m in dosed], [_day(m) for m in febrile]
    now = _day(assessment.now)
    highest_limit = max([*limits, float(assessment.general_lln)])
    top = max([*values, highest_limit]) * 1.2
    start = max(min([*times, *doses, *fevers, now - 14]) - 2, _FIRST_DAY)

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": chart_id, "font.size": 8}):
        figure = Figure(figsize=(6.2, 2.6), dpi=100)
        figure.subplots_adjust(left=0.1, right=0.98, top=0.97, bottom=0.14)
        axes = figure.add_subplot()
        axes.axhspan(0, float(thresholds.moderate_from), color=SEVERE, alpha=0.13, lw=0, label="severe")
        axes.axhspan(float(thresholds.moderate_from), float(thresholds.mild_from), color=MODERATE, alpha=0.13, lw=0,
                     label="moderate")
        axes.axhspan(float(thresholds.mild_from), highest_limit, color=MILD, alpha=0.13, lw=0, label="mild")
        if times:
            axes.step([*times, now], [*limits, limits[-1]], where="post", color=LLN_COLOUR, lw=1, ls="--",
                      label="lower limit for age", gid=f"{chart_id}-lln")
            if measured:
                axes.plot(*zip(*measured, strict=True), marker="o", ms=4, color=ANC_COLOUR, lw=1.2, label="ANC",
                          gid=f"{chart_id}-anc")
            if ceilings:
                days, tops = zip(*ceilings, strict=True)
                axes.vlines(days, 0, tops, colors=ANC_COLOUR, lw=1, ls=":")
                axes.plot(days, tops, ls="none", marker="v", ms=5, color=ANC_COLOUR, label="ANC at most",
                          gid=f"{chart_id}-anc-at-most")
        else:
            axes.axhline(float(assessment.general_lln), color=LLN_COLOUR, lw=1, ls="--", label="lower limit",
                         gid=f"{chart_id}-lln")
            axes.text(0.5, 0.5, "no dated ANC in the record", transform=axes.transAxes, ha="center", va="center")
        if doses:
            axes.vlines(doses, 0, top, colors=CHEMO_COLOUR, lw=1.2, ls=":", label="chemotherapy",
                        gid=f"{chart_id}-chemotherapy")
        if fevers:
            axes.plot(fevers, [0.93] * len(fevers), transform=axes.get_xaxis_transform(), ls="none", marker="v",
                      ms=6, color=FEVER_COLOUR, label=f"fever (\u2265 {thresholds.sustained_fever_from_c} \u00b0C)",
                      gid=f"{chart_id}-fever")
        axes.axvline(now, color="#9e9e9e", lw=0.8)
        axes.set_xlim(start, now + 1)
        axes.set_ylim(0, top)
        axes.set_ylabel("ANC (/\u00b5L)")
        locator = AutoDateLocator(tz=zone, minticks=3, maxticks=7)  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=zone))  # type: ignore[no-untyped-call]
        axes.legend(loc="upper left", fontsize=7, ncol=4, frameon=False)
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None})
    svg = out.getvalue()
    return svg[svg.index("<svg"):]
