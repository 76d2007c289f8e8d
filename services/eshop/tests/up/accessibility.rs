//! What assistive technology needs from every page: a label for every
//! field, a text for every image, landmarks, and focus that shows.

use fantoccini::key::Key;

use crate::harness::visit;

/// Lists what a page lacks: fields without a label, images without alt
/// text, and missing landmarks.
const AUDIT: &str = r#"
const missing = [];
for (const field of document.querySelectorAll("input, select, textarea")) {
  if (field.type === "hidden") continue;
  const labelled = field.labels && field.labels.length > 0;
  if (!labelled && !field.getAttribute("aria-label")) missing.push(`field ${field.name}`);
}
for (const image of document.querySelectorAll("img")) {
  if (!image.getAttribute("alt")) missing.push(`image ${image.src}`);
}
for (const landmark of ["header", "nav", "main", "footer"]) {
  if (!document.querySelector(landmark)) missing.push(`landmark ${landmark}`);
}
if (!document.querySelector("h1")) missing.push("heading h1");
return missing;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_labels_its_fields_and_images_and_shows_focus() {
    let visit = visit().await;
    visit.register("Hedy Lamarr").await;
    visit.add_to_cart("KIT-SERVO-PACK", "1").await;
    for path in [
        "/",
        "/categories/robots",
        "/search?q=drone",
        "/products/ROBOT-ARM-2",
        "/cart",
        "/checkout",
        "/orders",
        "/account",
        "/account/wallet",
        "/no-such-page",
    ] {
        visit.open(path).await;
        visit.element("main h1").await;
        let missing = visit
            .browser
            .execute(AUDIT, vec![])
            .await
            .expect("the audit runs");
        assert_eq!(missing, serde_json::json!([]), "{path} lacks these");
    }

    visit.open("/").await;
    visit
        .element("body")
        .await
        .send_keys(&Key::Tab.to_string())
        .await
        .expect("a key press");
    let focused = visit
        .browser
        .execute(
            "const element = document.activeElement; \
             return [element.textContent.trim(), getComputedStyle(element).outlineStyle];",
            vec![],
        )
        .await
        .expect("a script runs");
    assert_eq!(
        focused[0], "Skip to content",
        "the first Tab reaches the skip link"
    );
    assert_ne!(focused[1], "none", "focus is visible");
    visit.close().await;
}
