//! A user's own wallet: opened empty, topped up by card under the test-card
//! rules, idempotent by `Idempotency-Key`, capped, and private.

use eshop_test_support::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    DECLINED_CARD, FAILING_CARD, GOOD_CARD, NO_FUNDS_CARD, Settled, TestApp, all_at_once,
    assert_error, is_replay, spawn,
};

on_both_backends!(
    a_new_wallet_is_empty_and_lists_the_latest_twenty_transactions_newest_first,
    each_test_card_answers_a_top_up_as_documented,
    a_repeated_top_up_gets_the_first_answer_and_a_changed_one_is_refused,
    the_same_top_up_sent_five_times_at_once_pays_in_once,
    a_top_up_may_not_take_the_balance_over_the_limit,
    a_user_only_ever_sees_their_own_wallet,
);

async fn a_new_wallet_is_empty_and_lists_the_latest_twenty_transactions_newest_first(app: TestApp) {
    let user = app.new_user();
    assert_eq!(
        app.wallet(&user).await,
        json!({"balance_cents": 0, "transactions": []})
    );

    let response = app
        .top_up(
            &user,
            "first",
            json!({"amount_cents": 1500, "card_number": "4242 4242 4242 4242"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert!(!is_replay(&response));
    let receipt: Value = response.json().await.expect("JSON");
    assert_eq!(receipt["balance_cents"], 1500);
    let transaction = &receipt["transaction"];
    assert_eq!(transaction["kind"], "top_up");
    assert_eq!(transaction["amount_cents"], 1500);
    assert_eq!(transaction["balance_after_cents"], 1500);
    assert_eq!(transaction["reference"], "card ending 4242");
    assert!(transaction["id"].as_str().is_some_and(|id| id.len() == 36));
    assert!(transaction["created_at"].is_string());
    let wallet = app.wallet(&user).await;
    assert_eq!(wallet["balance_cents"], 1500);
    assert_eq!(wallet["transactions"], json!([transaction]));

    for amount in 1..=21 {
        app.fund(&user, amount).await;
    }
    let wallet = app.wallet(&user).await;
    let expected_balance = 1500 + (1..=21).sum::<i64>();
    assert_eq!(wallet["balance_cents"], expected_balance);
    let transactions = wallet["transactions"].as_array().expect("a list");
    assert_eq!(transactions.len(), 20);
    let amounts: Vec<i64> = transactions
        .iter()
        .map(|transaction| transaction["amount_cents"].as_i64().expect("cents"))
        .collect();
    assert_eq!(amounts, (2..=21).rev().collect::<Vec<_>>());
    assert_eq!(transactions[0]["balance_after_cents"], expected_balance);

    let totals = app.assert_money_conserved().await;
    assert_eq!(totals["top_ups_cents"], expected_balance);
    assert_eq!(totals["accounts"], 1);
    assert_eq!(totals["entries"], 22);
}

async fn each_test_card_answers_a_top_up_as_documented(app: TestApp) {
    let user = app.new_user();
    let top_up = |key: &'static str, card: &'static str| {
        app.top_up(
            &user,
            key,
            json!({"amount_cents": 1000, "card_number": card}),
        )
    };

    assert_eq!(
        top_up("good", GOOD_CARD).await.status(),
        StatusCode::CREATED
    );
    let other_valid = top_up("other", "5555 5555 5555 4444").await;
    assert_eq!(other_valid.status(), StatusCode::CREATED);
    let receipt: Value = other_valid.json().await.expect("JSON");
    assert_eq!(receipt["transaction"]["reference"], "card ending 4444");

    assert_error(
        top_up("declined", DECLINED_CARD).await,
        StatusCode::PAYMENT_REQUIRED,
        "card_declined",
        None,
    )
    .await;
    assert_error(
        top_up("no-funds", NO_FUNDS_CARD).await,
        StatusCode::PAYMENT_REQUIRED,
        "insufficient_funds",
        None,
    )
    .await;
    for _ in 0..2 {
        let failing = top_up("failing", FAILING_CARD).await;
        assert!(!is_replay(&failing), "a bank failure is not kept");
        assert_error(failing, StatusCode::BAD_GATEWAY, "processing_error", None).await;
    }
    let wallet = app.wallet(&user).await;
    assert_eq!(wallet["balance_cents"], 2000, "only the good cards paid");
    assert_eq!(wallet["transactions"].as_array().map(Vec::len), Some(2));

    let metrics = app.metrics().await;
    for line in [
        r#"eshop_wallet_top_ups_total{outcome="succeeded"} 2"#,
        r#"eshop_wallet_top_ups_total{outcome="card_declined"} 1"#,
        r#"eshop_wallet_top_ups_total{outcome="insufficient_funds"} 1"#,
        r#"eshop_wallet_top_ups_total{outcome="processing_error"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} missing from {metrics}");
    }
    app.assert_money_conserved().await;
}

async fn a_repeated_top_up_gets_the_first_answer_and_a_changed_one_is_refused(app: TestApp) {
    let user = app.new_user();
    let body = json!({"amount_cents": 700, "card_number": GOOD_CARD});
    let first = app.top_up(&user, "key-1", body.clone()).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first_body = first.text().await.expect("text");

    let again = app.top_up(&user, "key-1", body.clone()).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(is_replay(&again));
    assert_eq!(again.text().await.expect("text"), first_body);
    let spaced = app
        .top_up(
            &user,
            "key-1",
            json!({"amount_cents": 700, "card_number": "4242 4242 4242 4242"}),
        )
        .await;
    assert_eq!(
        spaced.status(),
        StatusCode::OK,
        "spaces do not change the card"
    );
    assert_eq!(app.balance(&user).await, 700);

    for changed in [
        json!({"amount_cents": 701, "card_number": GOOD_CARD}),
        json!({"amount_cents": 700, "card_number": "5555555555554444"}),
    ] {
        assert_error(
            app.top_up(&user, "key-1", changed).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            Some("Idempotency-Key"),
        )
        .await;
    }

    let declined = json!({"amount_cents": 700, "card_number": DECLINED_CARD});
    let first_decline = app.top_up(&user, "key-2", declined.clone()).await;
    assert_eq!(first_decline.status(), StatusCode::PAYMENT_REQUIRED);
    let first_decline = first_decline.text().await.expect("text");
    let repeated_decline = app.top_up(&user, "key-2", declined).await;
    assert_eq!(repeated_decline.status(), StatusCode::PAYMENT_REQUIRED);
    assert!(is_replay(&repeated_decline));
    assert_eq!(repeated_decline.text().await.expect("text"), first_decline);

    let someone_else = app.new_user();
    let theirs = app.top_up(&someone_else, "key-1", body).await;
    assert_eq!(
        theirs.status(),
        StatusCode::CREATED,
        "keys are each user's own"
    );
    assert_eq!(app.balance(&user).await, 700);
    assert_eq!(app.balance(&someone_else).await, 700);
    let totals = app.assert_money_conserved().await;
    assert_eq!(totals["entries"], 2);
}

async fn the_same_top_up_sent_five_times_at_once_pays_in_once(app: TestApp) {
    let user = app.new_user();
    let body = json!({"amount_cents": 2500, "card_number": GOOD_CARD});
    let answers = all_at_once(5, |_| app.top_up(&user, "parallel", body.clone())).await;
    assert!(answers.iter().all(Settled::succeeded), "{answers:?}");
    let created = answers
        .iter()
        .filter(|answer| answer.status == StatusCode::CREATED)
        .count();
    assert!(created <= 1, "paid in at most once: {answers:?}");
    assert!(
        answers.iter().all(|answer| answer.body == answers[0].body),
        "one answer: {answers:?}"
    );
    let wallet = app.wallet(&user).await;
    assert_eq!(wallet["balance_cents"], 2500);
    assert_eq!(wallet["transactions"].as_array().map(Vec::len), Some(1));
    let totals = app.assert_money_conserved().await;
    assert_eq!(totals["entries"], 1);
}

async fn a_top_up_may_not_take_the_balance_over_the_limit(app: TestApp) {
    let user = app.new_user();
    for _ in 0..10 {
        app.fund(&user, 1_000_000).await;
    }
    assert_eq!(app.balance(&user).await, 10_000_000);
    let over = json!({"amount_cents": 1, "card_number": GOOD_CARD});
    let body = assert_error(
        app.top_up(&user, "over", over.clone()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "balance_limit_exceeded",
        Some("amount_cents"),
    )
    .await;
    assert_eq!(app.balance(&user).await, 10_000_000);

    app.charge_wallet(&user, 1).await;
    let again = app.top_up(&user, "over", over).await;
    assert!(is_replay(&again), "the refusal is the key's answer");
    assert_eq!(
        assert_error(
            again,
            StatusCode::UNPROCESSABLE_ENTITY,
            "balance_limit_exceeded",
            Some("amount_cents"),
        )
        .await,
        body
    );
    assert_eq!(app.fund(&user, 1).await, 10_000_000, "a new key may top up");
    app.assert_money_conserved().await;
}

async fn a_user_only_ever_sees_their_own_wallet(app: TestApp) {
    let (ada, bob) = (app.new_user(), app.new_user());
    app.fund(&ada, 5000).await;
    app.fund(&bob, 300).await;
    app.charge_wallet(&ada, 1200).await;

    let ada_wallet = app.wallet(&ada).await;
    let bob_wallet = app.wallet(&bob).await;
    assert_eq!(ada_wallet["balance_cents"], 3800);
    assert_eq!(bob_wallet["balance_cents"], 300);
    let kinds = |wallet: &Value| -> Vec<String> {
        wallet["transactions"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|transaction| transaction["kind"].as_str().expect("a kind").to_owned())
            .collect()
    };
    assert_eq!(kinds(&ada_wallet), ["charge", "top_up"]);
    assert_eq!(kinds(&bob_wallet), ["top_up"]);

    let peek = app
        .http
        .get(app.url(&format!("/v1/wallet?user_id={}", ada.id)))
        .bearer_auth(&bob.token)
        .send()
        .await
        .expect("answer");
    assert_eq!(peek.status(), StatusCode::OK);
    let peeked: Value = peek.json().await.expect("JSON");
    assert_eq!(
        peeked["balance_cents"], 300,
        "the token decides whose wallet"
    );
    let by_path = app
        .http
        .get(app.url(&format!("/v1/wallet/{}", ada.id)))
        .bearer_auth(&bob.token)
        .send()
        .await
        .expect("answer");
    assert_error(by_path, StatusCode::NOT_FOUND, "not_found", None).await;
    app.assert_money_conserved().await;
}
