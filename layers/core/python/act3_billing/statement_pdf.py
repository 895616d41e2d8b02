"""The statement as a PDF (fpdf2, imported only by the statements function)."""

from __future__ import annotations

from datetime import datetime, timedelta

from act3_billing.domain.statements import Statement

_LABELS = {
    "grant_monthly": "Monthly allowance",
    "grant": "Promotional / education grants",
    "pack_purchase": "Credit packs bought",
    "transfer_in": "Transfers in",
    "adjustment": "Adjustments",
}


def _n(value: int) -> str:
    return f"{value:,}"


def render(statement: Statement, org_name: str, generated_at: datetime) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(f"ACT 3 AI usage statement {statement.cycle} - {org_name}")
    pdf.set_author("ACT 3 AI Billing")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, "ACT 3 AI - monthly usage statement", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    last_day = statement.period_end - timedelta(days=1)
    pdf.cell(0, 6, f"Organization: {org_name} ({statement.org_id})", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(
        0,
        6,
        f"Period: {statement.period_start:%d %B %Y} - {last_day:%d %B %Y} (UTC)",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(
        0,
        6,
        f"Generated: {generated_at:%Y-%m-%d %H:%M} UTC - all amounts in credits",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(4)

    def section(title: str, rows: list[tuple[str, str]], header: tuple[str, str] | None = None) -> None:
        pdf.set_font("Helvetica", "B", 12)
        pdf.set_fill_color(235, 238, 245)
        pdf.cell(0, 8, title, fill=True, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)
        if header:
            pdf.set_font("Helvetica", "I", 9)
            pdf.cell(130, 6, header[0])
            pdf.cell(50, 6, header[1], align="R", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 10)
        if not rows:
            pdf.cell(0, 6, "none", new_x="LMARGIN", new_y="NEXT")
        for label, value in rows:
            pdf.cell(130, 6, label[:70])
            pdf.cell(50, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)

    s = statement
    granted = [(_LABELS.get(k, k), _n(v)) for k, v in sorted(s.granted.items())]
    section("Credits granted", [*granted, ("Total granted", _n(sum(s.granted.values())))])
    section(
        "Credits used",
        [
            ("Spent (debits and captured holds)", _n(s.spent)),
            ("Refunded to the org (failed jobs)", _n(s.refunded)),
            ("Net spent", _n(s.spent - s.refunded)),
        ],
    )
    section("Spent by member", [(m, _n(v)) for m, v in s.spent_by_member], ("member", "credits"))
    section("Spent by job (largest 20)", [(j, _n(v)) for j, v in s.spent_by_job], ("job", "credits"))
    section(
        "Lots",
        [
            ("Rolled over into the bank", _n(s.rolled_over)),
            ("Expired", _n(s.expired)),
            ("Forfeited (over the rollover cap)", _n(s.forfeited)),
            ("Packs bought", _n(s.packs_bought)),
            ("Taken back (refunded or disputed packs, debt repaid)", _n(s.taken_back)),
            ("Debt outstanding now", _n(s.debt_now)),
        ],
    )
    pdf.set_font("Helvetica", "I", 8)
    pdf.multi_cell(
        0,
        4,
        f"{s.entries} ledger entries in this period. Every figure is the sum of the org's append-only "
        "ledger; invoices for money are listed separately (Stripe).",
    )
    return bytes(pdf.output())
