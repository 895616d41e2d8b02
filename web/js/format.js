// Numbers, money and dates as people read them.
const numberFormat = new Intl.NumberFormat("en-US");

export function credits(n) {
  return n === null || n === undefined ? "—" : numberFormat.format(n);
}

export function money(cents, currency = "usd") {
  if (cents === null || cents === undefined) return "by contract";
  return new Intl.NumberFormat("en-US", { style: "currency", currency: currency.toUpperCase() }).format(
    cents / 100,
  );
}

export function date(iso) {
  if (!iso) return "never";
  const d = new Date(iso);
  return d.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
}

export function dateTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return `${d.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" })} ${d
    .toISOString()
    .slice(11, 16)} UTC`;
}

export function daysUntil(iso, now = Date.now()) {
  return Math.ceil((new Date(iso).getTime() - now) / 86400000);
}

export function percent(part, whole) {
  if (!whole) return 0;
  return Math.max(0, Math.min(100, Math.round((part / whole) * 100)));
}

export const ROLE_NAMES = { owner: "Owner", billing: "Billing", creator: "Creator", viewer: "Viewer" };

export const ENTRY_TYPES = {
  grant_monthly: "Monthly allowance",
  rollover: "Rolled over to bank",
  expire: "Expired",
  forfeit: "Forfeited",
  debit: "Job charged",
  hold: "Credits held",
  capture: "Hold captured",
  release: "Hold released",
  pack_purchase: "Pack bought",
  grant: "Grant",
  transfer_out: "Sent to another org",
  transfer_in: "Received from another org",
  refund: "Refund",
  adjustment: "Adjustment",
  clawback: "Pack taken back (refund or dispute)",
  debt_repaid: "Debt repaid",
};
