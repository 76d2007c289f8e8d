//! Product images, drawn by the catalog itself as SVG: a picture for the
//! product's category, in colours derived from its SKU, with its name
//! underneath. Every product has an image without any image files to ship.

use std::fmt::Write;

use crate::domain::Product;

/// A 400x300 SVG picture of `product`.
pub(crate) fn product_svg(product: &Product) -> String {
    let hue = hue_of(product.sku.as_str());
    let accent = (hue + 150) % 360;
    let mut svg = String::with_capacity(2048);
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 300" width="400" height="300" role="img" aria-label="{label}">
<defs><linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="hsl({hue},70%,92%)"/><stop offset="1" stop-color="hsl({hue},60%,78%)"/>
</linearGradient></defs>
<rect width="400" height="300" rx="18" fill="url(#bg)"/>
<g fill="hsl({hue},55%,38%)" stroke="hsl({hue},60%,22%)" stroke-width="4" stroke-linejoin="round">
"##,
        label = escape(&product.name),
    );
    svg.push_str(&glyph(product.category.as_str(), accent));
    let _ = write!(
        svg,
        r##"</g>
<text x="200" y="278" text-anchor="middle" font-family="system-ui, sans-serif" font-size="18" fill="hsl({hue},60%,18%)">{name}</text>
</svg>
"##,
        name = escape(&truncate(&product.name, 34)),
    );
    svg
}

/// A stable hue for a SKU (FNV-1a), so a product keeps its colours.
fn hue_of(sku: &str) -> u32 {
    let hash = sku.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    hash % 360
}

/// The picture of a category, drawn in the 400x250 area above the name.
fn glyph(category: &str, accent: u32) -> String {
    let eye = format!("hsl({accent},85%,55%)");
    match category {
        "robots" => format!(
            r#"<rect x="140" y="70" width="120" height="100" rx="16"/>
<line x1="200" y1="70" x2="200" y2="45"/><circle cx="200" cy="40" r="8" fill="{eye}"/>
<circle cx="172" cy="110" r="13" fill="{eye}"/><circle cx="228" cy="110" r="13" fill="{eye}"/>
<rect x="170" y="140" width="60" height="10" rx="4" fill="{eye}"/>
<rect x="155" y="180" width="90" height="55" rx="10"/>
<rect x="115" y="185" width="30" height="12" rx="6"/><rect x="255" y="185" width="30" height="12" rx="6"/>"#
        ),
        "ai" => format!(
            r#"<rect x="130" y="60" width="140" height="140" rx="14"/>
<rect x="160" y="90" width="80" height="80" rx="8" fill="{eye}"/>
<g stroke-width="6">{pins}</g>
<text x="200" y="140" text-anchor="middle" font-family="system-ui, sans-serif" font-size="28" stroke="none" fill="white">AI</text>"#,
            pins = (0..5)
                .map(|i| {
                    let x = 150 + i * 25;
                    let y = 80 + i * 25;
                    format!(
                        r#"<line x1="{x}" y1="45" x2="{x}" y2="60"/><line x1="{x}" y1="200" x2="{x}" y2="215"/><line x1="115" y1="{y}" x2="130" y2="{y}"/><line x1="270" y1="{y}" x2="285" y2="{y}"/>"#
                    )
                })
                .collect::<String>()
        ),
        "drones" => format!(
            r#"<line x1="120" y1="80" x2="280" y2="200" stroke-width="10"/><line x1="280" y1="80" x2="120" y2="200" stroke-width="10"/>
<rect x="170" y="115" width="60" height="50" rx="12"/><circle cx="200" cy="140" r="10" fill="{eye}"/>
<ellipse cx="120" cy="80" rx="42" ry="10" fill="{eye}"/><ellipse cx="280" cy="80" rx="42" ry="10" fill="{eye}"/>
<ellipse cx="120" cy="200" rx="42" ry="10" fill="{eye}"/><ellipse cx="280" cy="200" rx="42" ry="10" fill="{eye}"/>"#
        ),
        "sensors" => format!(
            r#"<circle cx="200" cy="190" r="22"/>
<path d="M150 150 A70 70 0 0 1 250 150" fill="none" stroke="{eye}" stroke-width="10"/>
<path d="M120 120 A110 110 0 0 1 280 120" fill="none" stroke="{eye}" stroke-width="10"/>
<path d="M90 90 A150 150 0 0 1 310 90" fill="none" stroke="{eye}" stroke-width="10"/>"#
        ),
        "kits" => format!(
            r#"<circle cx="200" cy="135" r="62"/>{teeth}
<circle cx="200" cy="135" r="24" fill="{eye}"/>"#,
            teeth = (0..8)
                .map(|i| format!(
                    r#"<rect x="188" y="55" width="24" height="30" rx="4" transform="rotate({} 200 135)"/>"#,
                    i * 45
                ))
                .collect::<String>()
        ),
        _ => format!(r#"<rect x="130" y="60" width="140" height="140" rx="20"/><circle cx="200" cy="130" r="30" fill="{eye}"/>"#),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(max - 1).collect();
        short.push('…');
        short
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Sku, Slug};

    fn product(sku: &str, category: &str, name: &str) -> Product {
        Product {
            sku: Sku::parse("sku", sku).unwrap(),
            name: name.to_owned(),
            description: String::new(),
            price_cents: 100,
            category: Slug::parse("category", category).unwrap(),
            image_url: String::new(),
            stock: 1,
            weight_grams: 100,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_same_product_always_gets_the_same_picture() {
        let a = product_svg(&product("ROBOT-1", "robots", "Rover"));
        assert_eq!(a, product_svg(&product("ROBOT-1", "robots", "Rover")));
        assert_ne!(a, product_svg(&product("ROBOT-2", "robots", "Rover")));
        assert!(a.starts_with("<svg") && a.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn names_are_escaped() {
        let svg = product_svg(&product("X-1", "ai", "Bits & <Bytes>"));
        assert!(svg.contains("Bits &amp; &lt;Bytes&gt;"));
        assert!(!svg.contains("<Bytes>"));
    }
}
