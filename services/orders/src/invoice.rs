//! An order's invoice as a printable HTML page: one self-contained document
//! (inline CSS, no scripts, no outside resources) that prints cleanly on A4
//! or Letter. Every piece of text from the order is HTML-escaped.

use std::fmt::Write as _;

use time::OffsetDateTime;

use crate::domain::{Order, PaymentMethod};

/// The shop's name, as the invoice shows it.
pub(crate) const SHOP_NAME: &str = "eShop";

const STYLE: &str = "
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#111827;font:14px/1.5 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif}
main{max-width:800px;margin:32px auto;padding:48px;background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
header{display:flex;justify-content:space-between;align-items:flex-start;border-bottom:2px solid #111827;padding-bottom:16px;margin-bottom:24px}
h1{margin:0;font-size:28px;letter-spacing:.02em}
h2{margin:0 0 4px;font-size:13px;text-transform:uppercase;letter-spacing:.08em;color:#6b7280}
.meta{text-align:right}
.meta dt{color:#6b7280;font-size:12px}
.meta dd{margin:0 0 6px;font-weight:600}
.parties{display:flex;gap:48px;margin-bottom:24px}
address{font-style:normal}
table{width:100%;border-collapse:collapse}
th{text-align:left;font-size:12px;text-transform:uppercase;letter-spacing:.06em;color:#6b7280;border-bottom:1px solid #d1d5db;padding:8px 6px}
td{padding:8px 6px;border-bottom:1px solid #e5e7eb;vertical-align:top}
.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.sku{color:#6b7280;font-size:12px}
tfoot td{border-bottom:none}
tfoot tr.total td{border-top:2px solid #111827;font-size:16px;font-weight:700}
footer{margin-top:32px;color:#6b7280;font-size:12px}
@media print{
  @page{size:auto;margin:15mm}
  body{background:#fff;font-size:11pt}
  main{margin:0;padding:0;max-width:none;box-shadow:none;border-radius:0}
  tr{break-inside:avoid}
}
";

/// The invoice of `order`, as a complete HTML document.
pub(crate) fn render(order: &Order) -> String {
    let number = order.number.to_string();
    let mut html = String::with_capacity(4096 + order.lines.len() * 256);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        html,
        "<title>{} invoice {}</title>",
        escape(SHOP_NAME),
        escape(&number)
    );
    let _ = writeln!(html, "<style>{STYLE}</style>\n</head>\n<body>\n<main>");

    let _ = writeln!(
        html,
        "<header>\n<div><h1>{}</h1><div>Invoice</div></div>\n<dl class=\"meta\">\n\
         <dt>Order number</dt><dd>{}</dd>\n<dt>Date</dt><dd>{}</dd>\n\
         <dt>Status</dt><dd>{}</dd>\n</dl>\n</header>",
        escape(SHOP_NAME),
        escape(&number),
        date(order.created_at),
        escape(order.status.as_str()),
    );

    let shipping = &order.shipping;
    let _ = write!(
        html,
        "<section class=\"parties\">\n<div><h2>Ship to</h2><address>{}<br>{}<br>",
        escape(&shipping.name),
        escape(&shipping.line1),
    );
    if let Some(line2) = &shipping.line2 {
        let _ = write!(html, "{}<br>", escape(line2));
    }
    let _ = writeln!(
        html,
        "{} {}<br>{}</address></div>",
        escape(&shipping.postal_code),
        escape(&shipping.city),
        escape(&shipping.country_code),
    );
    let _ = writeln!(
        html,
        "<div><h2>Payment</h2><div>{}</div></div>",
        match order.payment.method {
            PaymentMethod::Wallet => "Wallet",
            PaymentMethod::Card => "Card",
        }
    );
    if let Some(tracking_number) = &order.tracking_number {
        let _ = writeln!(
            html,
            "<div><h2>Tracking number</h2><div>{}</div></div>",
            escape(tracking_number)
        );
    }
    html.push_str("</section>\n");

    html.push_str(
        "<table>\n<thead><tr><th>Item</th><th class=\"num\">Quantity</th>\
         <th class=\"num\">Unit price</th><th class=\"num\">Amount</th></tr></thead>\n<tbody>\n",
    );
    for line in &order.lines {
        let _ = writeln!(
            html,
            "<tr><td>{}<div class=\"sku\">{}</div></td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            escape(&line.name),
            escape(&line.sku),
            line.quantity,
            money(line.unit_price_cents),
            money(line.total_cents),
        );
    }
    let _ = writeln!(
        html,
        "</tbody>\n<tfoot>\n\
         <tr><td colspan=\"3\" class=\"num\">Items</td><td class=\"num\">{}</td></tr>\n\
         <tr><td colspan=\"3\" class=\"num\">Shipping</td><td class=\"num\">{}</td></tr>\n\
         <tr class=\"total\"><td colspan=\"3\" class=\"num\">Total</td><td class=\"num\">{}</td></tr>\n\
         </tfoot>\n</table>",
        money(order.items_total_cents),
        money(order.shipping_cost_cents),
        money(order.total_cents),
    );
    let _ = writeln!(
        html,
        "<footer>Thank you for shopping at {}. Order {} was placed on {}.</footer>\n\
         </main>\n</body>\n</html>",
        escape(SHOP_NAME),
        escape(&number),
        date(order.created_at),
    );
    html
}

/// `text` safe to put in HTML text and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// An amount in cents as the shop writes money: `$1,234.56`.
pub(crate) fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    let units = (cents / 100).to_string();
    let mut grouped = String::with_capacity(units.len() + units.len() / 3);
    for (index, digit) in units.chars().enumerate() {
        if index > 0 && (units.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{sign}${grouped}.{:02}", cents % 100)
}

/// A date as people write it: `21 November 2025` (UTC).
fn date(at: OffsetDateTime) -> String {
    format!("{} {} {}", at.day(), at.month(), at.year())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_grouped_in_thousands_with_two_decimals() {
        assert_eq!(money(0), "$0.00");
        assert_eq!(money(5), "$0.05");
        assert_eq!(money(1999), "$19.99");
        assert_eq!(money(100_000), "$1,000.00");
        assert_eq!(money(123_456_789), "$1,234,567.89");
        assert_eq!(money(-250), "-$2.50");
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'co'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;"
        );
    }

    #[test]
    fn dates_are_written_out() {
        let at = OffsetDateTime::from_unix_timestamp(1_763_683_200).unwrap();
        assert_eq!(date(at), "21 November 2025");
    }
}
