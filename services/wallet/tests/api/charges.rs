//! Charges for the checkout saga: wallet debits that never overdraw, card
//! payments under the test-card rules, idempotent by key even when the same
//! charge arrives many times at once, and exact under contention.

use eshop_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    DECLINED_CARD, FAILING_CARD, GOOD_CARD, NO_FUNDS_CARD, Settled, TestApp, all_at_once,
    assert_error, card_charge, is_replay, spawn, wallet_charge,
};

on_both_backends!(
    a_wallet_charge_debits_the_wallet_and_can_be_read_back,
    insufficient_funds_leave_the_balance_unchanged_and_are_the_keys_answer,
    card_charges_follow_the_test_card_rules_and_never_touch_the_wallet,
    a_repeated_charge_gets_the_first_answer_and_a_changed_one_is_refused,
    the_same_charge_sent_five_times_at_once_debits_once,
    fifty_concurrent_charges_of_100_against_1000_cents_take_exactly_ten,
    answers_and_balances_survive_a_restart,
);

async fn a_wallet_charge_debits_the_wallet_and_can_be_read_back(app: TestApp) {
    let user = app.new_user();
    app.fund(&user, 5000).await;
    let response = app.charge(wallet_charge("order-1", &user, 1999)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let charge: Value = response.json().await.expect("JSON");
    assert_eq!(charge["status"], "succeeded");
    assert_eq!(charge["method"], "wallet");
    assert_eq!(charge["amount_cents"], 1999);
    assert_eq!(charge["refunded_cents"], 0);
    assert_eq!(charge["user_id"], user.id.to_string());
    assert_eq!(charge["reference"], "checkout-1");
    assert_eq!(charge["card_last4"], Value::Null);
    let id: Uuid = charge["charge_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("a charge id");
    assert_eq!(
        app.charge_by_id(id).await,
        charge,
        "read back as it was answered"
    );

    let wallet = app.wallet(&user).await;
    assert_eq!(wallet["balance_cents"], 3001);
    let latest = &wallet["transactions"][0];
    assert_eq!(latest["id"], charge["charge_id"]);
    assert_eq!(latest["kind"], "charge");
    assert_eq!(latest["amount_cents"], 1999);
    assert_eq!(latest["balance_after_cents"], 3001);
    assert_eq!(latest["reference"], "checkout-1");
    assert_eq!(latest["created_at"], charge["created_at"]);

    let everything = app.charge(wallet_charge("order-2", &user, 3001)).await;
    assert_eq!(everything.status(), StatusCode::CREATED);
    assert_eq!(app.balance(&user).await, 0, "a wallet may be emptied");

    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"eshop_wallet_charges_total{method="wallet",outcome="succeeded"} 2"#),
        "{metrics}"
    );
    let totals = app.assert_money_conserved().await;
    assert_eq!(
        (
            totals["top_ups_cents"].as_i64(),
            totals["charged_cents"].as_i64()
        ),
        (Some(5000), Some(5000))
    );
}

async fn insufficient_funds_leave_the_balance_unchanged_and_are_the_keys_answer(app: TestApp) {
    let user = app.new_user();
    let stranger = app.new_user();
    assert_error(
        app.charge(wallet_charge("no-wallet-yet", &stranger, 1))
            .await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_funds",
        None,
    )
    .await;

    app.fund(&user, 999).await;
    let first = assert_error(
        app.charge(wallet_charge("too-much", &user, 1000)).await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_funds",
        None,
    )
    .await;
    let wallet = app.wallet(&user).await;
    assert_eq!(wallet["balance_cents"], 999);
    assert_eq!(wallet["transactions"].as_array().map(Vec::len), Some(1));

    app.fund(&user, 1).await;
    let retried = app.charge(wallet_charge("too-much", &user, 1000)).await;
    assert!(is_replay(&retried), "the first failure is the key's answer");
    let retried = assert_error(
        retried,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_funds",
        None,
    )
    .await;
    assert_eq!(retried, first);
    assert_eq!(app.balance(&user).await, 1000);

    let fresh = app.charge(wallet_charge("enough-now", &user, 1000)).await;
    assert_eq!(fresh.status(), StatusCode::CREATED);
    assert_eq!(app.balance(&user).await, 0);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(
            r#"eshop_wallet_charges_total{method="wallet",outcome="insufficient_funds"} 2"#
        ),
        "{metrics}"
    );
    let totals = app.assert_money_conserved().await;
    assert_eq!(totals["charged_cents"], 1000);
}

async fn card_charges_follow_the_test_card_rules_and_never_touch_the_wallet(app: TestApp) {
    let user = app.new_user();
    app.fund(&user, 100).await;

    let paid = app
        .charge(card_charge("card-1", &user, 4500, "4242 4242 4242 4242"))
        .await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let charge: Value = paid.json().await.expect("JSON");
    assert_eq!(charge["method"], "card");
    assert_eq!(charge["card_last4"], "4242");
    assert_eq!(charge["status"], "succeeded");
    let other = app
        .charge(card_charge("card-2", &user, 500, "5555555555554444"))
        .await;
    assert_eq!(other.status(), StatusCode::CREATED);

    assert_error(
        app.charge(card_charge("card-3", &user, 500, DECLINED_CARD))
            .await,
        StatusCode::PAYMENT_REQUIRED,
        "card_declined",
        None,
    )
    .await;
    assert_error(
        app.charge(card_charge("card-4", &user, 500, NO_FUNDS_CARD))
            .await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_funds",
        None,
    )
    .await;
    for _ in 0..2 {
        let failing = app
            .charge(card_charge("card-5", &user, 500, FAILING_CARD))
            .await;
        assert!(!is_replay(&failing), "a bank failure may be retried");
        assert_error(failing, StatusCode::BAD_GATEWAY, "processing_error", None).await;
    }
    let declined_again = app
        .charge(card_charge("card-3", &user, 500, DECLINED_CARD))
        .await;
    assert!(is_replay(&declined_again), "a decline is the key's answer");
    assert_eq!(declined_again.status(), StatusCode::PAYMENT_REQUIRED);

    let wallet = app.wallet(&user).await;
    assert_eq!(wallet["balance_cents"], 100);
    assert_eq!(wallet["transactions"].as_array().map(Vec::len), Some(1));
    let totals = app.assert_money_conserved().await;
    assert_eq!(totals["card_charged_cents"], 5000);
    assert_eq!(totals["charged_cents"], 0);
    let metrics = app.metrics().await;
    for line in [
        r#"eshop_wallet_charges_total{method="card",outcome="succeeded"} 2"#,
        r#"eshop_wallet_charges_total{method="card",outcome="card_declined"} 1"#,
        r#"eshop_wallet_charges_total{method="card",outcome="replayed"} 1"#,
        r#"eshop_wallet_charges_total{method="card",outcome="processing_error"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from {metrics}");
    }
}

async fn a_repeated_charge_gets_the_first_answer_and_a_changed_one_is_refused(app: TestApp) {
    let user = app.new_user();
    app.fund(&user, 10_000).await;
    let body = wallet_charge("checkout-9/charge", &user, 2500);
    let first = app.charge(body.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = first.text().await.expect("text");
    for _ in 0..3 {
        let again = app.charge(body.clone()).await;
        assert_eq!(again.status(), StatusCode::OK);
        assert!(is_replay(&again));
        assert_eq!(again.text().await.expect("text"), first);
    }
    assert_eq!(app.balance(&user).await, 7500);

    let someone_else = app.new_user();
    app.fund(&someone_else, 10_000).await;
    let mut changes = Vec::new();
    for (field, value) in [
        ("amount_cents", json!(2501)),
        ("user_id", json!(someone_else.id)),
        ("reference", json!("checkout-10")),
        (
            "payment",
            json!({"method": "card", "card_number": GOOD_CARD}),
        ),
    ] {
        let mut changed = body.clone();
        changed[field] = value;
        changes.push(changed);
    }
    for changed in changes {
        assert_error(
            app.charge(changed).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            Some("idempotency_key"),
        )
        .await;
    }
    assert_eq!(app.balance(&user).await, 7500);
    assert_eq!(app.balance(&someone_else).await, 10_000);
    let totals = app.assert_money_conserved().await;
    assert_eq!(totals["charged_cents"], 2500);
    assert_eq!(totals["card_charged_cents"], 0);
}

async fn the_same_charge_sent_five_times_at_once_debits_once(app: TestApp) {
    let user = app.new_user();
    app.fund(&user, 1000).await;
    let body = wallet_charge("parallel-charge", &user, 600);
    let answers = all_at_once(5, |_| app.charge(body.clone())).await;
    assert!(answers.iter().all(Settled::succeeded), "{answers:?}");
    let created = answers
        .iter()
        .filter(|answer| answer.status == StatusCode::CREATED)
        .count();
    assert!(created <= 1, "charged at most once: {answers:?}");
    assert!(
        answers.iter().all(|answer| answer.body == answers[0].body),
        "one answer: {answers:?}"
    );
    let wallet = app.wallet(&user).await;
    assert_eq!(wallet["balance_cents"], 400);
    assert_eq!(
        wallet["transactions"].as_array().map(Vec::len),
        Some(2),
        "one top-up and one charge"
    );
    let totals = app.assert_money_conserved().await;
    assert_eq!(totals["charged_cents"], 600);
    assert_eq!(totals["entries"], 2);
}

async fn fifty_concurrent_charges_of_100_against_1000_cents_take_exactly_ten(app: TestApp) {
    let user = app.new_user();
    app.fund(&user, 1000).await;
    let answers = all_at_once(50, |index| {
        app.charge(wallet_charge(&format!("rush-{index}"), &user, 100))
    })
    .await;
    let succeeded = answers.iter().filter(|answer| answer.succeeded()).count();
    let refused = answers
        .iter()
        .filter(|answer| answer.status == StatusCode::PAYMENT_REQUIRED)
        .count();
    eprintln!(
        "50 concurrent charges of 100 against 1000: {succeeded} succeeded, {refused} refused"
    );
    assert_eq!((succeeded, refused), (10, 40), "{answers:?}");
    let wallet = app.wallet(&user).await;
    assert_eq!(wallet["balance_cents"], 0);
    let balances: Vec<i64> = wallet["transactions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|transaction| transaction["balance_after_cents"].as_i64().expect("cents"))
        .collect();
    assert_eq!(
        balances,
        [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000],
        "each charge saw the balance the one before left"
    );
    let totals = app.assert_money_conserved().await;
    assert_eq!(totals["charged_cents"], 1000);
    assert_eq!(totals["entries"], 11);
}

async fn answers_and_balances_survive_a_restart(app: TestApp) {
    let user = app.new_user();
    app.fund(&user, 800).await;
    let charge = wallet_charge("before-restart", &user, 300);
    let first = app.charge(charge.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = first.text().await.expect("text");
    let refused = wallet_charge("refused-before-restart", &user, 501);
    assert_eq!(
        app.charge(refused.clone()).await.status(),
        StatusCode::PAYMENT_REQUIRED
    );

    let app = app.restart().await;
    assert_eq!(app.balance(&user).await, 500);
    let again = app.charge(charge).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.text().await.expect("text"), first);
    let refused_again = app.charge(refused).await;
    assert!(is_replay(&refused_again));
    assert_eq!(refused_again.status(), StatusCode::PAYMENT_REQUIRED);
    assert_eq!(app.balance(&user).await, 500);
    app.assert_money_conserved().await;
}
