//! Refunds for the checkout saga: credited to the wallet for wallet charges,
//! recorded for card charges, idempotent by key, and never more than the
//! charge took, even when many arrive at once.

use eshop_test_support::on_both_backends;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{
    GOOD_CARD, TestApp, all_at_once, assert_error, card_charge, is_replay, refund_of, spawn,
};

on_both_backends!(
    wallet_refunds_are_credited_and_never_exceed_the_charge,
    a_card_refund_is_recorded_without_touching_a_wallet,
    a_repeated_refund_gets_the_first_answer_and_a_changed_one_is_refused,
    twenty_concurrent_refunds_of_100_against_a_charge_of_1000_take_exactly_ten,
    refunds_and_reads_of_unknown_charges_are_not_found,
);

async fn wallet_refunds_are_credited_and_never_exceed_the_charge(app: TestApp) {
    let user = app.new_user();
    app.fund(&user, 2000).await;
    let charge_id = app.charge_wallet(&user, 1500).await;
    assert_eq!(app.balance(&user).await, 500);

    let partial = app.refund(refund_of("refund-1", charge_id, 600)).await;
    assert_eq!(partial.status(), StatusCode::CREATED);
    let refund: Value = partial.json().await.expect("JSON");
    assert_eq!(refund["charge_id"], charge_id.to_string());
    assert_eq!(refund["method"], "wallet");
    assert_eq!(refund["amount_cents"], 600);
    assert_eq!(refund["charge_refunded_cents"], 600);
    assert!(refund["refund_id"].is_string());
    assert_eq!(app.balance(&user).await, 1100);
    let latest = &app.wallet(&user).await["transactions"][0];
    assert_eq!(latest["kind"], "refund");
    assert_eq!(latest["id"], refund["refund_id"]);
    assert_eq!(latest["amount_cents"], 600);
    assert_eq!(latest["balance_after_cents"], 1100);
    assert_eq!(latest["reference"], "checkout-1");

    assert_error(
        app.refund(refund_of("refund-2", charge_id, 901)).await,
        StatusCode::CONFLICT,
        "refund_exceeds_charge",
        Some("amount_cents"),
    )
    .await;
    assert_eq!(
        app.balance(&user).await,
        1100,
        "a refused refund moves nothing"
    );
    let rest = app.refund(refund_of("refund-3", charge_id, 900)).await;
    assert_eq!(rest.status(), StatusCode::CREATED);
    assert_error(
        app.refund(refund_of("refund-4", charge_id, 1)).await,
        StatusCode::CONFLICT,
        "refund_exceeds_charge",
        Some("amount_cents"),
    )
    .await;
    assert_eq!(app.balance(&user).await, 2000);
    let charge = app.charge_by_id(charge_id).await;
    assert_eq!(
        (
            charge["amount_cents"].as_i64(),
            charge["refunded_cents"].as_i64()
        ),
        (Some(1500), Some(1500))
    );

    let metrics = app.metrics().await;
    for line in [
        r#"eshop_wallet_refunds_total{outcome="succeeded"} 2"#,
        r#"eshop_wallet_refunds_total{outcome="refund_exceeds_charge"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from {metrics}");
    }
    let totals = app.assert_money_conserved().await;
    assert_eq!(
        (
            totals["charged_cents"].as_i64(),
            totals["refunded_cents"].as_i64(),
            totals["balances_cents"].as_i64()
        ),
        (Some(1500), Some(1500), Some(2000))
    );
}

async fn a_card_refund_is_recorded_without_touching_a_wallet(app: TestApp) {
    let user = app.new_user();
    app.fund(&user, 100).await;
    let paid = app
        .charge(card_charge("card", &user, 3000, GOOD_CARD))
        .await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let charge: Value = paid.json().await.expect("JSON");
    let charge_id: Uuid = charge["charge_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("an id");

    let refund = app.refund(refund_of("card-refund", charge_id, 3000)).await;
    assert_eq!(refund.status(), StatusCode::CREATED);
    let refund: Value = refund.json().await.expect("JSON");
    assert_eq!(refund["method"], "card");
    assert_eq!(app.charge_by_id(charge_id).await["refunded_cents"], 3000);
    let wallet = app.wallet(&user).await;
    assert_eq!(wallet["balance_cents"], 100);
    assert_eq!(wallet["transactions"].as_array().map(Vec::len), Some(1));
    assert_error(
        app.refund(refund_of("card-refund-2", charge_id, 1)).await,
        StatusCode::CONFLICT,
        "refund_exceeds_charge",
        Some("amount_cents"),
    )
    .await;
    let totals = app.assert_money_conserved().await;
    assert_eq!(
        (
            totals["card_charged_cents"].as_i64(),
            totals["card_refunded_cents"].as_i64(),
            totals["refunded_cents"].as_i64()
        ),
        (Some(3000), Some(3000), Some(0))
    );
}

async fn a_repeated_refund_gets_the_first_answer_and_a_changed_one_is_refused(app: TestApp) {
    let user = app.new_user();
    app.fund(&user, 1000).await;
    let charge_id = app.charge_wallet(&user, 1000).await;
    let other_charge = {
        app.fund(&user, 50).await;
        app.charge_wallet(&user, 50).await
    };

    let body = refund_of("saga/refund", charge_id, 400);
    let first = app.refund(body.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = first.text().await.expect("text");
    let again = app.refund(body).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(is_replay(&again));
    assert_eq!(again.text().await.expect("text"), first);
    assert_eq!(app.balance(&user).await, 400);

    for changed in [
        refund_of("saga/refund", charge_id, 401),
        refund_of("saga/refund", other_charge, 400),
    ] {
        assert_error(
            app.refund(changed).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            Some("idempotency_key"),
        )
        .await;
    }

    let too_much = refund_of("saga/too-much", charge_id, 601);
    let refused = assert_error(
        app.refund(too_much.clone()).await,
        StatusCode::CONFLICT,
        "refund_exceeds_charge",
        Some("amount_cents"),
    )
    .await;
    let refused_again = app.refund(too_much).await;
    assert!(is_replay(&refused_again));
    assert_eq!(
        assert_error(
            refused_again,
            StatusCode::CONFLICT,
            "refund_exceeds_charge",
            Some("amount_cents"),
        )
        .await,
        refused
    );
    assert_eq!(app.charge_by_id(charge_id).await["refunded_cents"], 400);
    let totals = app.assert_money_conserved().await;
    assert_eq!(totals["refunded_cents"], 400);
}

async fn twenty_concurrent_refunds_of_100_against_a_charge_of_1000_take_exactly_ten(app: TestApp) {
    let user = app.new_user();
    app.fund(&user, 1000).await;
    let charge_id = app.charge_wallet(&user, 1000).await;
    let answers = all_at_once(20, |index| {
        app.refund(refund_of(&format!("refund-{index}"), charge_id, 100))
    })
    .await;
    let succeeded = answers.iter().filter(|answer| answer.succeeded()).count();
    let refused = answers
        .iter()
        .filter(|answer| answer.status == StatusCode::CONFLICT)
        .count();
    assert_eq!((succeeded, refused), (10, 10), "{answers:?}");
    assert_eq!(app.balance(&user).await, 1000);
    assert_eq!(app.charge_by_id(charge_id).await["refunded_cents"], 1000);
    let totals = app.assert_money_conserved().await;
    assert_eq!(
        (
            totals["charged_cents"].as_i64(),
            totals["refunded_cents"].as_i64()
        ),
        (Some(1000), Some(1000))
    );
}

async fn refunds_and_reads_of_unknown_charges_are_not_found(app: TestApp) {
    let unknown = Uuid::new_v4();
    assert_error(
        app.refund(refund_of("unknown", unknown, 100)).await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.internal(Method::GET, &format!("/internal/charges/{unknown}"), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
        None,
    )
    .await;
    assert_error(
        app.internal(Method::GET, "/internal/charges/not-a-uuid", None)
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_path",
        None,
    )
    .await;

    let user = app.new_user();
    app.fund(&user, 100).await;
    let charge_id = app.charge_wallet(&user, 100).await;
    let late = app.refund(refund_of("unknown", charge_id, 100)).await;
    assert_eq!(
        late.status(),
        StatusCode::CREATED,
        "a not-found answer is not kept under the key"
    );
    app.assert_money_conserved().await;
}
